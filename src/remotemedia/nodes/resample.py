"""AudioResampleNode: sample-rate conversion."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from remotemedia.core.audio import AudioBuffer
from remotemedia.core.node import Node, computes_as
from remotemedia.kernels.chain import ResampleStage
from remotemedia.kernels.pool import IdlePool
from remotemedia.kernels.resample import DEFAULT_QUALITY, check_quality, check_rate

if TYPE_CHECKING:
    from remotemedia.core.retry import RetryPolicy
    from remotemedia.kernels import KernelSet

#: Output rate when none is given (what speech models expect).
DEFAULT_TARGET_RATE = 16_000


class AudioResampleNode(Node):
    """Resample to ``target_rate`` (kernels ``resample`` and ``Resampler``).

    Output is float32 with the input's channel layout and
    ``ceil(frames * target_rate / in_rate)`` frames, delay-compensated.
    Input already at ``target_rate`` passes through unchanged, unless the
    node is ``variable``.

    Drift correction: made with ``variable=True``, a stream's resampler runs
    on the interpolated-phase kernel (equal rates too) and
    ``StreamSession.set_ratio(node_name, ratio, ramp_frames)`` changes its
    ratio ``out / in`` while streaming (see
    :meth:`remotemedia.Resampler.set_ratio`).

    Parameters
    ----------
    target_rate : int
        Output sample rate in Hz, within the kernel's range (1000..768000);
        default :data:`DEFAULT_TARGET_RATE`.
    quality : {"low", "medium", "high", "very_high"}
        Kernel quality preset (default: the kernel's, "high").
    runtime_hint, name, retry
        See :class:`~remotemedia.Node`.
    target_sample_rate : int, optional
        Alias of ``target_rate`` (older scripts use it).
    variable : bool
        Streams may change their ratio (``set_ratio``); default False.

    Raises
    ------
    TypeError
        ``target_rate`` is not an integer.
    ValueError
        A rate the kernel refuses or an unknown quality (the kernel
        contract's own checks and messages, so ``remotemedia validate``
        rejects what a run would), or both ``target_rate`` and a different
        ``target_sample_rate``.
    """

    uses_kernels = True

    def __init__(
        self,
        target_rate: int | None = None,
        quality: str = DEFAULT_QUALITY,
        runtime_hint: str = "auto",
        name: str | None = None,
        retry: RetryPolicy | None = None,
        target_sample_rate: int | None = None,
        variable: bool = False,
    ) -> None:
        super().__init__(name=name, runtime_hint=runtime_hint, retry=retry)
        if target_rate is not None and target_sample_rate is not None and target_rate != target_sample_rate:
            raise ValueError(
                f"AudioResampleNode: target_rate={target_rate} and target_sample_rate={target_sample_rate} "
                "disagree; pass only target_rate"
            )
        rate = target_rate if target_rate is not None else target_sample_rate
        op = "AudioResampleNode" if name is None else f"AudioResampleNode {name!r}"
        self.target_rate = check_rate(DEFAULT_TARGET_RATE if rate is None else rate, "target_rate", op)
        self.quality = check_quality(quality, op)
        self.variable = bool(variable)
        # Resamplers of ended streams, reset, for the next stream of the same shape.
        self._resamplers = IdlePool()

    def params(self) -> dict[str, Any]:
        """``target_rate`` and ``quality`` (the alias is not stored); ``variable`` when set."""
        p: dict[str, Any] = {"target_rate": self.target_rate, "quality": self.quality}
        if self.variable:
            p["variable"] = True
        return p

    def native_stage(self) -> ResampleStage | None:
        """Chain stage: resampling to ``target_rate`` at ``quality``."""
        if self.variable:  # its ratio changes through the node's stream state (set_ratio): node by node
            return None
        return ResampleStage(self.target_rate, self.quality) if computes_as(self, AudioResampleNode) else None

    def process_with(self, data: Any, kernels: KernelSet) -> AudioBuffer:
        """Resample one whole buffer."""
        buf = AudioBuffer.from_any(data, "AudioResampleNode")
        if buf.sample_rate == self.target_rate:
            return buf
        out = kernels.resample(buf.data, buf.sample_rate, self.target_rate, self.quality)
        return buf.derive(out, self.target_rate)

    def open_state(self, kernels: KernelSet | None) -> dict[str, Any]:
        """Per-stream state: the streaming Resampler, chosen on the first chunk.

        It is built for the first chunk's rate and channel count, or taken
        (reset) from the resamplers earlier streams of that shape left.
        """
        return {"resampler": None, "rate": None, "channels": None, "ratio": None}

    def set_ratio(self, state: dict[str, Any], ratio: float, ramp_frames: int = 0) -> None:
        """Change the ratio ``out / in`` of one stream (``StreamSession.set_ratio`` calls this).

        Before the first chunk the ratio is kept and applied when the
        stream's resampler is made.

        Raises
        ------
        ValueError
            The node is not ``variable``, or the ratio is refused by
            :meth:`remotemedia.Resampler.set_ratio`.
        """
        if not self.variable:
            raise ValueError(
                f"AudioResampleNode {self.name!r}: set_ratio needs a variable node; "
                "create it with AudioResampleNode(..., variable=True)"
            )
        if state["resampler"] is None:
            state["ratio"] = (ratio, ramp_frames)
            return
        state["resampler"].set_ratio(ratio, ramp_frames)

    def process_chunk(self, data: Any, state: dict[str, Any], kernels: KernelSet | None) -> AudioBuffer:
        """Resample one chunk of a stream (output of all chunks + flush == one shot)."""
        assert kernels is not None
        buf = AudioBuffer.from_any(data, "AudioResampleNode")
        if state["rate"] is None:
            state["rate"], state["channels"] = buf.sample_rate, buf.channels
            if buf.sample_rate != self.target_rate or self.variable:
                key = (
                    kernels.name,
                    kernels.binding,
                    buf.sample_rate,
                    buf.channels,
                    self.target_rate,
                    self.quality,
                    self.variable,
                )
                state["key"] = key
                state["resampler"] = self._resamplers.take(key) or kernels.Resampler(
                    buf.sample_rate, self.target_rate, buf.channels, self.quality, variable=self.variable
                )
                if state["ratio"] is not None:
                    state["resampler"].set_ratio(*state["ratio"])
        elif (buf.sample_rate, buf.channels) != (state["rate"], state["channels"]):
            raise ValueError(
                f"AudioResampleNode {self.name!r}: stream changed from {state['channels']} ch at {state['rate']} Hz "
                f"to {buf.channels} ch at {buf.sample_rate} Hz mid-stream; open a new stream"
            )
        if state["resampler"] is None:
            return buf
        return buf.derive(state["resampler"].process(buf.data), self.target_rate)

    def flush(self, state: dict[str, Any], kernels: KernelSet | None) -> AudioBuffer | None:
        """The resampler's pending tail, or None if nothing was resampled."""
        if state["resampler"] is None:
            return None
        return AudioBuffer(state["resampler"].flush(), self.target_rate)

    def close_state(self, state: dict[str, Any], kernels: KernelSet | None) -> None:
        """Reset the stream's resampler and keep it for the next stream of the same shape."""
        resampler = state.get("resampler")
        if resampler is None:
            return
        state["resampler"] = None
        try:
            resampler.reset()
        except RuntimeError:  # still in use by another thread (an abandoned stream): not reusable
            return
        self._resamplers.park(state["key"], resampler)
