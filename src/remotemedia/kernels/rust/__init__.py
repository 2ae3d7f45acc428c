"""The "rust" kernel set's body: the Rust core, called through either binding.

Each module binds a binding module's functions once (``make_*``); nothing
here imports a binding itself (``remotemedia.runtime`` loads it).
"""
