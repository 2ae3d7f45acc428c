"""Start-up: the command line and the package import only what a command needs.

Checked through ``sys.modules`` in a fresh interpreter (never through
timings): the CLI must not load Dask, tqdm, multiprocessing or the stream
machinery until a run needs them, and the lazily exported names must all resolve.
"""

from __future__ import annotations

import importlib
import json
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
    assert done.stdout.strip() == "['remotemedia._version']"


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


@pytest.mark.parametrize("module", ["remotemedia", "remotemedia.core", "remotemedia.nodes", "remotemedia.stream"])
def test_every_exported_name_resolves_and_is_listed(module: str) -> None:
    mod = importlib.import_module(module)
    for name in mod.__all__:
        value = getattr(mod, name)
        assert value is not None and name in dir(mod)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = mod.nope


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
