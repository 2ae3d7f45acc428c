"""FormatConverterNode: PCM sample format conversion."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from remotemedia.core.audio import AudioBuffer
from remotemedia.core.node import Node, computes_as
from remotemedia.kernels._validate import target_format
from remotemedia.kernels.chain import ConvertStage

if TYPE_CHECKING:
    from remotemedia.core.retry import RetryPolicy
    from remotemedia.kernels import KernelSet


class FormatConverterNode(Node):
    """Convert samples to "f32", "i16" or "i32" (kernel ``convert``).

    Parameters
    ----------
    target_format : {"f32", "i16", "i32"}
        Output sample format; see :mod:`remotemedia.kernels.convert` for
        scaling, rounding and clipping.
    runtime_hint, name, retry
        See :class:`~remotemedia.Node`.

    Raises
    ------
    ValueError
        Unknown ``target_format``.
    """

    uses_kernels = True

    def __init__(
        self,
        target_format: str = "f32",
        runtime_hint: str = "auto",
        name: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__(name=name, runtime_hint=runtime_hint, retry=retry)
        self.target_format = target_format_of(target_format)

    def native_stage(self) -> ConvertStage | None:
        """Chain stage: conversion to ``target_format``."""
        return ConvertStage(self.target_format) if computes_as(self, FormatConverterNode) else None

    def process_with(self, data: Any, kernels: KernelSet) -> AudioBuffer:
        """Return ``data`` converted to the target format (same shape, metadata kept)."""
        buf = AudioBuffer.from_any(data, "FormatConverterNode")
        return buf.derive(kernels.convert(buf.data, self.target_format))


def target_format_of(value: Any) -> str:
    """Normalise a format name for FormatConverterNode (ValueError if unknown)."""
    return target_format(value, "FormatConverterNode target_format")
