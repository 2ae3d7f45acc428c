"""Imported before workers fork: everything a worker needs, loaded once.

By a worker pool's fork server, and by the run itself before it forks its
workers (``WorkerPool`` with the fork start method). Workers fork with
these modules (and the native core) already loaded, so each starts in
milliseconds instead of importing the pipeline machinery, the built-in
nodes, the kernels, the stream session, the dataset cutter, soundfile and
the binding again, each worker for itself, on its first file.
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
    # what the first file imports (job.process_file): the chain stage, the cutter, the decoder
    "remotemedia.stream.chained",
    "remotemedia.stream.stages",
    "remotemedia.core.chains",
    "remotemedia.core.chunks",
    "remotemedia.dataset.cutter",
    "soundfile",
)
#: The kernel bodies (which one a worker uses depends on its runtime; importing selects nothing).
KERNEL_MODULES = (
    *(f"remotemedia.kernels.rust.{name}" for name in ("chain", "convert", "resample", "vad")),
    *(f"remotemedia.kernels.python.{name}" for name in ("convert", "resample", "resample_interp", "vad")),
)

for _name in MODULES:
    importlib.import_module(_name)
for _name in KERNEL_MODULES:
    with contextlib.suppress(ImportError):  # a body this install lacks is reported where it is chosen
        importlib.import_module(_name)
with contextlib.suppress(ImportError):  # a pure-Python install has none
    importlib.import_module(runtime._MODULES["cython"])
