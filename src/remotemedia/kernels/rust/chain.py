"""Native body of chains: one ``rm_chain`` handle per chain (the binding's ``Chain`` class)."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from remotemedia._bindings import abi
from remotemedia.kernels.chain import ConvertStage, DownmixStage, Layout, ResampleStage, StageSpec

_DTYPE_CODES = {"int16": abi.RM_FORMAT_I16, "int32": abi.RM_FORMAT_I32, "float32": abi.RM_FORMAT_F32,
                "float64": abi.RM_FORMAT_F64}  # fmt: skip


def abi_stages(stages: tuple[StageSpec, ...]) -> list[tuple[int, int, int]]:
    """``(kind, a, b)`` triples (``rm_stage``) for ``rm_chain_new``."""
    out = []
    for st in stages:
        if isinstance(st, ConvertStage):
            out.append((abi.RM_STAGE_CONVERT, abi.FORMAT_CODES[st.to], 0))
        elif isinstance(st, DownmixStage):
            out.append((abi.RM_STAGE_DOWNMIX, 0, 0))
        elif isinstance(st, ResampleStage):
            out.append((abi.RM_STAGE_RESAMPLE, st.rate, abi.QUALITY_CODES[st.quality]))
        else:
            out.append((abi.RM_STAGE_VAD, st.frame_ms, st.aggressiveness))
    return out


def make_chain(binding: ModuleType) -> Callable[[tuple[StageSpec, ...], Layout, Layout], Any]:
    """A factory of native chains on ``binding`` (cython or ctypes)."""
    cls = binding.Chain

    def make(stages: tuple[StageSpec, ...], layout: Layout, out: Layout) -> Any:
        return cls(_DTYPE_CODES[layout.dtype.name], layout.channels, layout.rate, abi_stages(stages), out.ndim == 1)

    return make
