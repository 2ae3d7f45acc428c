"""BLAKE2b without OpenSSL: the batch job's one hash (fingerprints, the pipeline's
identity, tagged output names).

``import hashlib`` loads OpenSSL's ``_hashlib`` (~3 ms of a one-file run's
start) although BLAKE2b never comes from it: CPython's hashlib takes it from
its own ``_blake2`` module, which is imported here directly when present
(hashlib's as the fallback), so the digests are the same bytes either way.
"""

from __future__ import annotations

try:
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - an interpreter without CPython's module
    from hashlib import blake2b

__all__ = ["blake2b"]
