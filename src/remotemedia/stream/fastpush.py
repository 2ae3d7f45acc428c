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

from collections.abc import Callable
from typing import Any

from remotemedia import runtime


def chain_pusher(stage: Any, fallback: Callable[[Any], Any], fail: Callable[[BaseException, bool], Any]) -> Any:
    """The binding's ``ChainPush`` for a session whose one stage is the ChainStage ``stage``, or None.

    None when there is no such stage (the session has several stages,
    metrics or sinks) or the chain's binding has no ``ChainPush`` (ctypes,
    numpy). ``fallback(chunk)`` is the session's general push, ``fail(exc,
    native)`` the error a failure raises (see ``ChainPush``). The pusher
    starts unarmed: its pushes go to ``fallback``, and the session arms it
    (:meth:`ChainStage.arm_pusher`) once a chunk left a tracking chain
    compiled.
    """
    if stage is None or stage.kernels is None or stage.kernels.binding is None:
        return None
    module, _ = runtime.load_binding(stage.kernels.binding)
    cls = getattr(module, "ChainPush", None)
    return None if cls is None else cls(fallback, fail)
