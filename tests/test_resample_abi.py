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
    with pytest.raises(ValueError, match=r"1000\.\.768000"):
        module.Resampler(400, 16_000, 1, 2)
    # The variable-ratio entries: a fixed-ratio handle refuses set_ratio,
    # a variable one refuses a ratio far from its own and bad ratios.
    with pytest.raises(ValueError, match="fixed ratio"):
        module.Resampler(48_000, 16_000, 1, 2).set_ratio(0.34, 0)
    v = module.Resampler(48_000, 48_000, 1, 2, True)
    v.set_ratio(1.0001, 100)
    with pytest.raises(ValueError, match="5%"):
        v.set_ratio(1.2, 0)
    for bad in (0.0, float("nan"), 1e9):
        with pytest.raises(ValueError, match="ratio"):
            module.Resampler(0, 0, 1, 2, False, bad)


def test_ratio_entries_refuse_bad_handles_without_crashing() -> None:
    # The variable-ratio entries are guarded like every other: a null handle
    # or output slot and a bad ratio come back as status codes, never a panic.
    import ctypes

    module, reason = runtime.load_binding("ctypes")
    if module is None:
        pytest.skip(f"no cdylib in this install: {reason}")
    lib = module._lib
    null_pointer, invalid, state = 2, 1, 5
    assert lib.rm_resampler_set_ratio(None, 1.0, 0) == null_pointer
    assert lib.rm_resampler_new_ratio(1.01, 1, 2, None) == null_pointer
    assert lib.rm_resampler_new_variable(48_000, 48_000, 1, 2, None) == null_pointer
    h = ctypes.c_void_p()
    for bad in (float("nan"), float("inf"), -1.0, 0.0, 1e6):
        assert lib.rm_resampler_new_ratio(bad, 1, 2, ctypes.byref(h)) == invalid
    assert lib.rm_resampler_new(48_000, 16_000, 1, 2, ctypes.byref(h)) == 0
    try:
        assert lib.rm_resampler_set_ratio(h, 0.34, 10) == state
    finally:
        lib.rm_resampler_free(h)
    assert lib.rm_resampler_new_ratio(0.7317, 2, 1, ctypes.byref(h)) == 0
    try:
        assert lib.rm_resampler_set_ratio(h, 0.74, 2**63) == 0
        assert lib.rm_resampler_set_ratio(h, float("nan"), 0) == invalid
    finally:
        lib.rm_resampler_free(h)
