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
between runs served by one fork server). Only when the importing process
has already chosen the native core (the run itself, forking its workers:
they inherit the choice) are the numpy kernel bodies left out; a worker
that still needs one (a node set to the Python runtime) imports it then.
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
#: The native kernel bodies' wrappers (importing selects nothing).
NATIVE_KERNEL_MODULES = tuple(f"remotemedia.kernels.rust.{name}" for name in ("chain", "convert", "resample", "vad"))
#: The numpy kernel bodies: left out when this process already runs on the native core (a run about to
#: fork its workers, which inherit that choice: ~6 ms of the run's serial start); a fork server, where
#: nothing is chosen yet and runs of any setting are served, loads them.
PYTHON_KERNEL_MODULES = tuple(
    f"remotemedia.kernels.python.{name}" for name in ("convert", "resample", "resample_interp", "vad")
)
#: Every kernel body.
KERNEL_MODULES = (*NATIVE_KERNEL_MODULES, *PYTHON_KERNEL_MODULES)

for _name in MODULES:
    importlib.import_module(_name)
for _name in NATIVE_KERNEL_MODULES if runtime.chosen_native() else KERNEL_MODULES:
    with contextlib.suppress(ImportError):  # a body this install lacks is reported where it is chosen
        importlib.import_module(_name)
with contextlib.suppress(ImportError):  # a pure-Python install has none
    importlib.import_module(runtime._MODULES["cython"])
