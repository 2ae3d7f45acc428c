"""The "python" kernel set's body: numpy, the same results as the Rust core."""
