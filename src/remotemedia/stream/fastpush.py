"""push() of a session that is one native chain, in one binding call.

A session whose pipeline is one chain ending in a VAD that tracks the
speech segments (the common real-time case: convert, downmix, resample,
VAD) spends most of a pushed frame's time in Python around the chain
call: the session, the chain stage, the output buffer, its metadata and
stamps. The Cython binding's ``ChainPush`` does all of that in one C
method; the session's ``push`` is that method once the first chunk has
compiled the chain (:func:`chain_pusher` wires it).

The results are the general path's, key for key and bit for bit: the C
method runs the same chain call and builds the same buffer, metadata
dict (the input's keys first, then ``vad_flags``, ``vad_events``,
``vad_frame_duration_ms``, ``start_sample``, ``start_s``) and position.
It takes AudioBuffers and ``(array, rate)`` tuples (an int rate) of the
stream's format; whatever else comes (another type, a format change, a
non-contiguous or byte-swapped array, an ended session) goes to the
general path, which gives the same output or the same error. Other bindings (ctypes,
the numpy body) have no ``ChainPush``: their sessions keep the general
path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from remotemedia import runtime
from remotemedia.core.audio import AudioBuffer
from remotemedia.nodes.vad_stream import SpeechEvent

if TYPE_CHECKING:
    from remotemedia.stream.chained import ChainStage
    from remotemedia.stream.session import StreamSession


def chain_pusher(session: StreamSession, stage: Any) -> Any:
    """The binding's ``ChainPush`` for ``session`` (whose one stage is the ChainStage ``stage``), or None.

    None when there is no such stage (the session has several stages,
    metrics or sinks) or the chain's binding has no ``ChainPush``. The
    pusher starts unarmed: its pushes go to the session's general path,
    and the first one that leaves a tracking chain compiled arms it.
    """
    if stage is None or stage.kernels is None or stage.kernels.binding is None:
        return None
    module, _ = runtime.load_binding(stage.kernels.binding)
    cls = getattr(module, "ChainPush", None)
    if cls is None:
        return None
    # The pusher holds its session as a bound method would (``push = s.push``
    # keeps the stream usable); the session holds the pusher: a cycle, so a
    # session dropped without close() is closed by the garbage collector.

    def fallback(chunk: Any) -> Any:
        out = type(session).push(session, chunk)
        pusher = session._pusher
        if pusher is not None and not pusher.armed and session._only is stage:
            _arm(pusher, session, stage, module)
        return out

    def fail(exc: BaseException, native: bool) -> BaseException:
        if native:
            stage.blame = stage.subs[0]  # as ChainStage: the chain call failed, its first node answers
        pos = session.position
        return session._fail(stage, "process_chunk", pos.describe(pos.chunks), exc)

    return cls(fallback, fail)


def _arm(pusher: Any, session: StreamSession, stage: ChainStage, module: Any) -> None:
    """Arm ``pusher`` when ``stage`` took its first chunk into a tracking chain of this binding."""
    chain = stage._chain
    core = getattr(chain, "_core", None)
    if not stage._native or stage._direct or stage._timed or not isinstance(core, module.Chain):
        return
    vad = stage._vad
    assert vad is not None  # a tracking chain ends in the VAD
    pusher.arm(
        core,
        AudioBuffer,
        stage._dtype,
        stage._rate_in,
        stage._ndim,
        stage._lead[0] if stage._ndim == 2 else 0,
        stage._rate,
        stage._frame_ms,
        SpeechEvent,  # made as vad.speech_events makes them (tested against it)
        vad.rate,
        session.position,
        session._stamp,
    )
