"""Native body of chains: one ``rm_chain`` handle per chain (the binding's ``Chain`` class)."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from remotemedia.kernels.chain import FORMAT_CODES, Layout, StageSpec, abi_stages


def make_chain(binding: ModuleType) -> Callable[[tuple[StageSpec, ...], Layout, Layout], Any]:
    """A factory of native chains on ``binding`` (cython or ctypes)."""
    cls = binding.Chain

    def make(stages: tuple[StageSpec, ...], layout: Layout, out: Layout) -> Any:
        return cls(FORMAT_CODES[layout.dtype], layout.channels, layout.rate, abi_stages(stages), out.ndim == 1)

    return make
