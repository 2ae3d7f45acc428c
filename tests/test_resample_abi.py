"""The resampler's C ABI: header, Cython declarations, ctypes declarations
and the library's exports name the same functions."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from remotemedia import runtime

ROOT = Path(__file__).resolve().parents[1]
HEADER = ROOT / "rust" / "remotemedia-runtime" / "include" / "remotemedia_runtime.h"
PXD = ROOT / "src" / "remotemedia" / "_bindings" / "cython_abi.pxd"
FUNC = re.compile(r"\b(rm_resample\w*)\s*\(")


def names(path: Path) -> set[str]:
    return set(FUNC.findall(path.read_text()))


def test_header_and_cython_declare_the_same_resampler_functions() -> None:
    declared = names(HEADER)
    assert {"rm_resampler_new", "rm_resampler_process", "rm_resampler_flush", "rm_resample"} <= declared
    assert names(PXD) == declared


def test_library_exports_exactly_the_declared_resampler_functions() -> None:
    module, reason = runtime.load_binding("ctypes")
    if module is None:
        pytest.skip(f"no cdylib in this install: {reason}")
    declared = names(HEADER)
    lib = module._lib
    for name in declared:
        assert hasattr(lib, name), name
    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("nm not available to list the library's exports")
    out = subprocess.run([nm, "-D", "--defined-only", str(module.LIBRARY_PATH)], capture_output=True, text=True)
    exported = {line.split()[-1] for line in out.stdout.splitlines() if " T rm_resample" in line}
    assert exported == declared


@pytest.mark.parametrize("binding", ["cython", "ctypes"])
def test_binding_checks_buffers(binding: str) -> None:
    module, reason = runtime.load_binding(binding)
    if module is None:
        pytest.skip(f"{binding} binding not loadable here: {reason}")
    r = module.Resampler(48_000, 16_000, 2, 2)
    x = np.zeros((2, 4_800), np.float32)
    need = r.output_frames(4_800)
    assert need > 0
    with pytest.raises(ValueError, match="too small"):
        r.process(x, np.zeros((2, need - 1), np.float32))
    assert r.process(x, np.zeros((2, need), np.float32)) == need
    with pytest.raises(ValueError, match="out_frames"):
        module.resample(48_000, 16_000, 2, x, np.zeros((2, 1_599), np.float32))
    with pytest.raises(ValueError, match="quality code"):
        module.Resampler(48_000, 16_000, 1, 7)
    with pytest.raises(ValueError, match=r"8000\.\.192000"):
        module.Resampler(4_000, 16_000, 1, 2)
