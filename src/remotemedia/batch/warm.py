"""Imported by a worker pool's fork server: everything a worker needs, loaded once.

Workers fork from the server with these modules (and the native core)
already loaded, so each starts in milliseconds instead of importing the
pipeline machinery, the built-in nodes, the kernels and the binding again.
The Cython binding's extension module is imported (safe: the server runs
no threads) but nothing is selected or cached: each worker still chooses
its runtime from its own environment (REMOTEMEDIA_RUNTIME may differ
between runs served by one fork server).
"""

from __future__ import annotations

import contextlib
import importlib

from remotemedia import runtime

#: What a worker running a built-in pipeline imports.
MODULES = (
    "remotemedia.batch.job",
    "remotemedia.batch.worker_plan",
    "remotemedia.core.manifest",
    "remotemedia.core.pipeline",
    "remotemedia.kernels",
    "remotemedia.nodes.channels",
    "remotemedia.nodes.convert",
    "remotemedia.nodes.resample",
    "remotemedia.nodes.vad",
    "remotemedia.stream.session",
)

for _name in MODULES:
    importlib.import_module(_name)
with contextlib.suppress(ImportError):  # a pure-Python install has none
    importlib.import_module(runtime._MODULES["cython"])
