"""The C ABI: header, exported symbols and bindings agree; panics stay inside."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from remotemedia import runtime
from remotemedia._bindings import abi, ctypes_signatures
from remotemedia.errors import NativeKernelError
from remotemedia.kernels import KernelSet

ROOT = Path(__file__).resolve().parents[1]
HEADER = ROOT / "rust" / "remotemedia-runtime" / "include" / "remotemedia_runtime.h"
PXD = ROOT / "src" / "remotemedia" / "_bindings" / "cython_abi.pxd"


def declared(path: Path) -> set[str]:
    return set(re.findall(r"\b(rm_\w+)\s*\(", path.read_text()))


def exported(library: Path) -> set[str]:
    nm = shutil.which("nm")
    assert nm, "nm (binutils) is needed to list the library's symbols"
    flags = ["-gU"] if sys.platform == "darwin" else ["-D", "--defined-only"]
    out = subprocess.run([nm, *flags, str(library)], capture_output=True, text=True, check=True).stdout
    names = {
        line.split()[-1].lstrip("_") if sys.platform == "darwin" else line.split()[-1] for line in out.splitlines()
    }
    return {n for n in names if n.startswith("rm_")}


def test_header_pxd_and_ctypes_declare_the_same_functions() -> None:
    in_header = declared(HEADER)
    assert {"rm_abi_version", "rm_last_error", "rm_convert", "rm_debug_panic"} <= in_header
    assert declared(PXD) == in_header
    assert set(ctypes_signatures.SIGNATURES) == in_header


def header_defines() -> dict[str, int]:
    """``#define NAME VALUE`` lines of the header with an integer value (not the include guard)."""
    pattern = r"^#define\s+(\w+)\s+(-?\d+)\s*(?:/\*.*\*/\s*)?$"  # a trailing /* comment */ allowed
    return {name: int(value) for name, value in re.findall(pattern, HEADER.read_text(), re.M)}


def test_every_header_constant_has_the_same_value_in_python_and_back() -> None:
    header = header_defines()
    python = {name: getattr(abi, name) for name in dir(abi) if name.startswith("RM_")}
    assert len(header) >= 16
    assert header == python


def test_cython_declares_every_header_constant() -> None:
    enum = PXD.read_text().split("enum:")[1].split("uint32_t rm_abi_version")[0]
    assert set(enum.split()) == set(header_defines())


def test_name_tables_map_onto_the_header_codes() -> None:
    header = header_defines()
    assert {f"RM_FORMAT_{name.upper()}": code for name, code in abi.FORMAT_CODES.items()} == {
        k: v for k, v in header.items() if k.startswith("RM_FORMAT_")
    }
    assert {f"RM_QUALITY_{name.upper()}": code for name, code in abi.QUALITY_CODES.items()} == {
        k: v for k, v in header.items() if k.startswith("RM_QUALITY_")
    }
    from remotemedia.kernels.resample import SPECS

    assert set(abi.QUALITY_CODES) == set(SPECS)


def test_header_abi_version_matches_python() -> None:
    match = re.search(r"#define RM_ABI_VERSION (\d+)", HEADER.read_text())
    assert match and int(match.group(1)) == runtime.EXPECTED_ABI_VERSION


def test_library_exports_exactly_the_header(native_ks: KernelSet) -> None:
    module, _ = runtime.load_binding("ctypes")
    if module is None:
        pytest.skip("the ctypes library is not in this install; its exports are checked where it is")
    assert exported(module.LIBRARY_PATH) == declared(HEADER)


def test_panic_becomes_exception_and_interpreter_lives_on(native_ks: KernelSet) -> None:
    module, _ = runtime.load_binding(native_ks.binding)
    for _ in range(3):
        with pytest.raises(NativeKernelError, match=r"rm_debug_panic: internal error \(Rust panic\): deliberate panic"):
            module.debug_panic()
    x = np.arange(-4, 4, dtype=np.int16)
    np.testing.assert_array_equal(native_ks.convert(x, "f32"), x / np.float32(32768))


def test_panic_in_fresh_process_exits_cleanly(native_ks: KernelSet) -> None:
    code = (
        "from remotemedia import runtime\n"
        "from remotemedia.errors import NativeKernelError\n"
        f"m, _ = runtime.load_binding({native_ks.binding!r})\n"
        "try:\n    m.debug_panic()\nexcept NativeKernelError as e:\n    print('caught', e)\n"
        "print('alive')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "alive" and "caught" in done.stdout
    assert "panicked" not in done.stderr  # the quiet hook keeps stderr clean


def test_native_reports_version_and_features(native_ks: KernelSet) -> None:
    module, _ = runtime.load_binding(native_ks.binding)
    assert module.abi_version() == runtime.EXPECTED_ABI_VERSION
    assert re.fullmatch(r"\d+\.\d+\.\d+", module.version())
    assert set(module.cpu_features().split(",")) <= {"sse2", "avx2", "fma", "scalar"}


def test_binding_rejects_mismatched_buffers(native_ks: KernelSet) -> None:
    module, _ = runtime.load_binding(native_ks.binding)
    with pytest.raises(ValueError, match="convert: output has 3 samples, input 4"):
        module.convert_i16_f32(np.zeros(4, np.int16), np.zeros(3, np.float32))
