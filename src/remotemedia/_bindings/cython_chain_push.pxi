# ChainPush: the whole per-frame path of a stream session that is one
# tracking chain (remotemedia.stream.session / .fastpush), in one C method:
# the format check, the chain call, the speech events, the output
# AudioBuffer with its metadata and stream stamps, the stream position.
# Anything else (another chunk type, a format change, a non-contiguous
# array, an ended session, a chain not armed yet) goes to the session's
# general path, `fallback`, which gives the same results and errors.

from cpython.dict cimport PyDict_Copy

cdef extern from *:
    """
    /* type.__new__(type) without a Python call: the type's own tp_new (an
       AudioBuffer: object's, no __init__; its slots are set right after). */
    static PyObject *rm_tp_new(PyObject *type, PyObject *args) {
        PyTypeObject *tp = (PyTypeObject *)type;
        return tp->tp_new(tp, args, NULL);
    }
    """
    object rm_tp_new(object type, object args)

cdef tuple _NO_ARGS = ()

cdef object _VAD_FLAGS = "vad_flags"
cdef object _VAD_EVENTS = "vad_events"
cdef object _VAD_FRAME_MS = "vad_frame_duration_ms"
cdef object _START_SAMPLE = "start_sample"
cdef object _START_S = "start_s"


cdef class ChainPush:
    """One session's push() over one native chain that tracks speech segments.

    ``fallback(chunk)``: the session's general push (used until
    :meth:`arm`, after :meth:`disarm`, and for any chunk this path does not
    take). ``fail(exc, native)``: the error to raise for ``exc`` (a
    NodeError naming the node; ``native``: the chain call failed), which
    also closes the session.
    """

    cdef Chain _chain
    cdef bint _armed
    cdef object _fallback, _fail
    cdef object _buffer_type, _ndarray, _dtype, _rate_in, _rate_out
    cdef object _frame_ms, _speech_events, _position, _stamp
    cdef int _ndim
    cdef Py_ssize_t _channels

    def __cinit__(self, fallback, fail):
        self._fallback = fallback
        self._fail = fail
        self._armed = False

    def arm(self, Chain chain, buffer_type, dtype, rate_in, int ndim, Py_ssize_t channels, rate_out,
            frame_ms, speech_events, position, stamp):
        """Take the stream's later chunks of this format (``ndim``, ``channels``
        rows, ``dtype``, ``rate_in``) through ``chain`` here. ``position``
        and ``stamp`` are the session's Position and Stamper (updated as
        the general path does); ``speech_events`` turns the chain's
        events into the VAD's."""
        self._chain = chain
        self._buffer_type = buffer_type
        self._ndarray = _np.ndarray
        self._dtype = dtype
        self._rate_in = rate_in
        self._ndim = ndim
        self._channels = channels
        self._rate_out = rate_out
        self._frame_ms = frame_ms
        self._speech_events = speech_events
        self._position = position
        self._stamp = stamp
        self._armed = True

    def disarm(self):
        """Every later chunk goes to ``fallback`` (the session ended); drops the chain."""
        self._armed = False
        self._chain = None
        self._speech_events = self._position = self._stamp = None

    @property
    def armed(self):
        return self._armed

    def push(self, chunk):
        """Process one chunk; the output AudioBuffer, or what ``fallback`` returns."""
        cdef Py_buffer buf
        cdef Py_ssize_t frames
        if not self._armed or type(chunk) is not self._buffer_type:
            return self._fallback(chunk)
        data = chunk.data
        rate = chunk.sample_rate
        if type(data) is not self._ndarray or data.dtype is not self._dtype or not (rate == self._rate_in):
            return self._fallback(chunk)
        try:
            PyObject_GetBuffer(data, &buf, PyBUF_C_CONTIGUOUS)
        except Exception:
            return self._fallback(chunk)  # not C-contiguous: the general path copies it
        if buf.ndim != self._ndim or (self._ndim == 2 and buf.shape[0] != self._channels):
            PyBuffer_Release(&buf)
            return self._fallback(chunk)
        frames = buf.shape[buf.ndim - 1]
        try:
            try:
                y, flags = self._chain._call_buffer(&buf, False)
                events = self._chain._events()
            except Exception as exc:
                raise self._fail(exc, True) from exc
        finally:
            PyBuffer_Release(&buf)
        try:
            if y is None:  # no stage changes the audio: the output is the input
                y = data
            out = rm_tp_new(self._buffer_type, _NO_ARGS)
            out.data = y
            out.sample_rate = self._rate_out
            ev = self._speech_events(events) if events else []
            meta_in = chunk.metadata
            if meta_in:
                meta = PyDict_Copy(meta_in) if type(meta_in) is dict else {**meta_in}
                meta[_VAD_FLAGS] = flags
                meta[_VAD_EVENTS] = ev
                meta[_VAD_FRAME_MS] = self._frame_ms
            else:
                meta = None
        except Exception as exc:
            raise self._fail(exc, False) from exc
        pos = self._position
        pos.chunks += 1
        pos.samples += frames
        pos.rate = rate
        stamp = self._stamp
        n = stamp.frames
        shape = y.shape
        stamp.frames = n + shape[len(shape) - 1]  # (no negative index: wraparound is off)
        if meta is None:  # the common case: one dict built in one go
            meta = {_VAD_FLAGS: flags, _VAD_EVENTS: ev, _VAD_FRAME_MS: self._frame_ms,
                    _START_SAMPLE: n, _START_S: n / self._rate_out}
        else:
            meta[_START_SAMPLE] = n
            meta[_START_S] = n / self._rate_out
        out.metadata = meta
        return out
