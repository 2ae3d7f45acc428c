"""Start-up: the command line and the package import only what a command needs.

Checked through ``sys.modules`` in a fresh interpreter (never through
timings): the CLI must not load Dask, tqdm, multiprocessing or the stream
machinery until a run needs them, and the lazily exported names must all resolve.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

# multiprocessing: only a run with several worker processes needs it (batch/workers.py)
HEAVY = ("dask", "distributed", "tqdm", "remotemedia.stream", "asyncio", "multiprocessing")


def loaded_after(code: str, cwd: Path | None = None) -> set[str]:
    """Modules of HEAVY (or below them) present in sys.modules after running ``code``."""
    probe = (
        f"{code}\nimport sys, json\n"
        f"heavy = {HEAVY!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules if any(m == h or m.startswith(h + '.') for h in heavy))))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=cwd, check=False)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_importing_the_cli_loads_no_dask_tqdm_stream_or_asyncio() -> None:
    assert loaded_after("import remotemedia.cli") == set()


def test_run_help_loads_no_dask_tqdm_stream_or_asyncio() -> None:
    code = (
        "import contextlib, io\nfrom remotemedia.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['run', '--help'])"
    )
    assert loaded_after(code) == set()


def test_run_help_builds_its_parser_without_the_runner_or_the_dataset_writers() -> None:
    code = (
        "import contextlib, io, sys\nfrom remotemedia.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['run', '--help'])\n"
        "import json\nprint(json.dumps(sorted(m for m in sys.modules if m.startswith('remotemedia.'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "remotemedia.batch.settings" in loaded  # what the parser's defaults come from
    for module in (
        "batch.runner",
        "batch.job",
        "batch.collisions",
        "batch.streamfile",
        "dataset.manifests",
        "dataset.labels",
    ):
        assert f"remotemedia.{module}" not in loaded


def test_lazy_batch_and_dataset_names_are_the_real_objects() -> None:
    import remotemedia.batch as batch
    import remotemedia.dataset as dataset
    from remotemedia.batch.runner import run_batch
    from remotemedia.dataset.manifests import write_nemo_manifest

    assert batch.run_batch is run_batch
    assert dataset.write_nemo_manifest is write_nemo_manifest
    for mod in (batch, dataset):
        assert all(getattr(mod, name) is not None for name in mod.__all__)
        with pytest.raises(AttributeError, match="no attribute 'nope'"):
            _ = mod.nope


def test_import_remotemedia_loads_no_submodule_until_asked() -> None:
    code = "import remotemedia"
    probe = f"{code}\nimport sys\nprint(sorted(m for m in sys.modules if m.startswith('remotemedia.')))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['remotemedia._lazy', 'remotemedia._version']"


def test_a_one_file_run_loads_the_session_but_not_dask_tqdm_or_asyncio(tmp_path: Path) -> None:
    t = np.arange(16000) / 16000
    sf.write(tmp_path / "a.wav", (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), 16000)
    code = "from remotemedia.cli import main\nassert main(['run', 'a.wav', '-o', 'out', '-q', '--workers', '1']) == 0"
    assert loaded_after(code, cwd=tmp_path) == {
        "remotemedia.stream",
        "remotemedia.stream.chained",  # the run's nodes as one native chain stage
        "remotemedia.stream.session",
        "remotemedia.stream.stages",
    }
    assert (tmp_path / "out" / "a.wav.json").is_file()


# Modules a plain one-file run (`remotemedia run FILE`, one worker, no dataset options) must not load:
# each is imported only by the runs (or the failures) that need it.
NOT_IN_A_PLAIN_RUN = (
    "asyncio",  # Pipeline.stream() and Pipeline.run(); the batch job streams through a synchronous session
    "concurrent.futures",  # an executor (--dask, run_batch(executor=...)) or the read-ahead of several files
    "dask",
    "distributed",
    "multiprocessing",  # several worker processes
    "tqdm",  # the progress bar, drawn only on a terminal
    "_hashlib",  # OpenSSL: the batch job's digests are BLAKE2b from CPython's _blake2 (batch/digest.py)
    "remotemedia.dataset.inputs",  # --from-list, --from-manifest
    "remotemedia.dataset.labels",  # --labels
    "remotemedia.dataset.manifests",  # --manifest
    "remotemedia.batch.workers",
    "remotemedia.stream.channel",  # the queues of Pipeline.stream()
    "remotemedia.stream.runner",
)
# ... and, when the run is on the native core (pure Python logs each node's planned fallback):
NOT_IN_A_NATIVE_RUN = (
    "logging",  # the pipeline logs only on rare paths (remotemedia.core.log)
    "traceback",  # the record of an unexpected error in a file (and logging's)
    "remotemedia.kernels.python",  # the numpy bodies and the Python filter design
    "remotemedia.kernels.resample_interp",
)


def modules_after_run(tmp_path: Path, options: list[str], files: int = 1, prelude: str = "") -> tuple[set[str], bool]:
    """``sys.modules`` after ``remotemedia run a.wav -o out --workers 1 OPTIONS`` in a fresh interpreter,
    and whether the run was on the native core. ``files`` > 1: the folder holding a.wav and more;
    ``prelude``: code run first."""
    t = np.arange(16000) / 16000
    for i in range(files):
        sf.write(
            tmp_path / ("a.wav" if i == 0 else f"b{i}.wav"),
            (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32),
            16000,
        )
    argv = ["run", "a.wav" if files == 1 else ".", "-o", "out", "--workers", "1", *options]
    code = (
        f"{prelude}import sys, json\nfrom remotemedia.cli import main\nassert main({argv!r}) == 0\n"
        "modules = sorted(sys.modules)\nfrom remotemedia import runtime\n"
        "print(json.dumps([modules, runtime.is_rust_runtime_available()]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "a.wav.json").is_file()
    modules, native = json.loads(done.stdout.strip().splitlines()[-1])
    return set(modules), native


@pytest.mark.parametrize("quiet", [True, False], ids=["quiet", "progress-lines"])
def test_a_plain_one_file_run_loads_only_what_it_uses(tmp_path: Path, quiet: bool) -> None:
    loaded, native = modules_after_run(tmp_path, ["-q"] if quiet else [])
    banned = NOT_IN_A_PLAIN_RUN + (NOT_IN_A_NATIVE_RUN if native else ())
    unwanted = sorted(m for m in loaded if any(m == u or m.startswith(u + ".") for u in banned))
    assert unwanted == [], f"a plain one-file run imported {unwanted}"
    assert {"remotemedia.stream.session", "remotemedia.batch.runner"} <= loaded  # it did run


# a run that starts a child process fails (ctypes.util imports subprocess, so the module is no sign)
NO_CHILD = (
    "import subprocess\n"
    "def _no_child(*args, **kwargs):\n"
    "    raise AssertionError(f'a child process: {args}')\n"
    "subprocess.Popen = _no_child\n"
)


def test_a_several_file_run_at_one_worker_loads_no_executor_and_starts_no_process(tmp_path: Path) -> None:
    """The read-ahead and the write-behind run on threads of their own (no concurrent.futures, logging's or
    queue's import), and the summary's runtime entries need no ``uname -p`` child (platform.platform())."""
    loaded, native = modules_after_run(tmp_path, ["-q"], files=3, prelude=NO_CHILD)
    banned = ("concurrent.futures", "queue", *(("logging",) if native else ()))
    assert sorted(m for m in loaded if any(m == u or m.startswith(u + ".") for u in banned)) == []
    assert "remotemedia.batch.readahead" in loaded or len(os.sched_getaffinity(0)) < 2
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if p.suffix == ".wav") == ["a.wav", "b1.wav", "b2.wav"]


def test_dataset_options_load_their_writers_when_asked(tmp_path: Path) -> None:
    loaded, _ = modules_after_run(tmp_path, ["-q", "--labels", "csv", "--manifest", "nemo"])
    assert {"remotemedia.dataset.labels", "remotemedia.dataset.manifests"} <= loaded
    assert (tmp_path / "out" / "a.segments.csv").is_file() and (tmp_path / "out" / "nemo_manifest.jsonl").is_file()


PACKAGES = [
    "remotemedia",
    "remotemedia.batch",
    "remotemedia.core",
    "remotemedia.dataset",
    "remotemedia.nodes",
    "remotemedia.stream",
]


@pytest.mark.parametrize("module", PACKAGES)
def test_every_exported_name_resolves_and_is_listed(module: str) -> None:
    mod = importlib.import_module(module)
    for name in mod.__all__:
        value = getattr(mod, name)
        assert value is not None and name in dir(mod)
        assert vars(mod)[name] is value  # kept: the next access is a plain attribute lookup
    with pytest.raises(AttributeError, match=f"^module '{module}' has no attribute 'nope'$"):
        _ = mod.nope
    assert not hasattr(mod, "nope")


def test_from_imports_and_dir_in_a_fresh_interpreter() -> None:
    """``from package import Name`` and ``dir(package)`` before any name was used, for every package."""
    code = (
        "import importlib, json\n"
        f"packages = {PACKAGES!r}\n"
        "report = {}\n"
        "for p in packages:\n"
        "    mod = importlib.import_module(p)\n"
        "    listed = dir(mod)\n"
        "    missing = [n for n in mod.__all__ if n not in listed]\n"
        "    ns = {}\n"
        "    exec(f'from {p} import ' + ', '.join(mod.__all__), ns)\n"
        "    wrong = [n for n in mod.__all__ if ns[n] is not getattr(mod, n)]\n"
        "    report[p] = [missing, wrong, listed == sorted(listed)]\n"
        "print(json.dumps(report))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {p: [[], [], True] for p in PACKAGES}


def test_lazy_exports_name_where_each_value_comes_from() -> None:
    import remotemedia
    import remotemedia.stream
    from remotemedia import batch, core, dataset, errors, kernels, nodes, runtime, stream, testing
    from remotemedia.core.registry import register
    from remotemedia.nodes.vad_stream import SpeechEvent

    # subpackages are the modules themselves; a renamed export is the object it names
    for sub in (batch, core, dataset, errors, kernels, nodes, runtime, stream, testing):
        assert sub is importlib.import_module(sub.__name__)
    assert remotemedia.register_node is register
    assert remotemedia.stream.SpeechEvent is SpeechEvent  # from another package
    with pytest.raises(AttributeError, match=r"^module 'remotemedia' has no attribute 'register'$"):
        _ = remotemedia.register


def test_lazy_exports_helper_on_a_package_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "lazypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "from remotemedia._lazy import lazy_exports\n"
        "__all__ = ['Thing', 'alias', 'sub']\n"
        "__getattr__, __dir__ = lazy_exports(__name__, {'Thing': '.things', 'alias': '.things:Thing', 'sub': '.sub'})\n"
    )
    (pkg / "things.py").write_text("class Thing:\n    pass\n")
    (pkg / "sub.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    lazypkg = importlib.import_module("lazypkg")
    try:
        assert "lazypkg.things" not in sys.modules
        assert {"Thing", "alias", "sub"} <= set(dir(lazypkg))
        assert lazypkg.alias is lazypkg.Thing is sys.modules["lazypkg.things"].Thing
        assert lazypkg.sub.VALUE == 1
        with pytest.raises(AttributeError, match=r"^module 'lazypkg' has no attribute 'other'$"):
            _ = lazypkg.other
    finally:
        for name in [m for m in sys.modules if m == "lazypkg" or m.startswith("lazypkg.")]:
            del sys.modules[name]


def test_lazy_names_are_the_real_objects() -> None:
    import remotemedia
    from remotemedia.core.pipeline import Pipeline
    from remotemedia.kernels.resample import Resampler
    from remotemedia.nodes.vad import VADNode
    from remotemedia.stream.session import StreamSession

    assert remotemedia.Pipeline is Pipeline and remotemedia.core.Pipeline is Pipeline
    assert remotemedia.Resampler is Resampler
    assert remotemedia.nodes.VADNode is VADNode
    assert remotemedia.stream.StreamSession is StreamSession
