# ChainPush: the whole per-frame path of a stream session that is one
# tracking chain (remotemedia.stream.session, _chain_pusher), in one C method:
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
cdef object _KIND = "kind"
cdef object _SAMPLE = "sample"
cdef object _TIME_S = "time_s"
cdef object _AUDIO = "audio"
cdef object _START = "start"
cdef object _END = "end"


cdef class ChainPush:
    """One session's push() over one native chain that tracks speech segments.

    ``fallback(chunk)``: the session's general push (used until
    :meth:`arm`, after :meth:`disarm`, and for any chunk this path does not
    take). ``fail(exc, native)``: the error to raise for ``exc`` (a
    NodeError naming the node; ``native``: the chain call failed), which
    also closes the session.

    The stream position and the output stamps are counted here in C while
    armed; :meth:`sync` adds them to the session's Position and Stamper,
    which this class does before anything else reads or changes them (the
    general path, a failure, :meth:`disarm`) and the session does before
    its ``position`` is read.
    """

    cdef Chain _chain
    cdef bint _armed
    cdef object _fallback, _fail
    cdef object _buffer_type, _ndarray, _dtype, _rate_in, _rate_out
    cdef object _frame_ms, _event_type, _event_rate, _position, _stamp
    cdef int _ndim
    cdef Py_ssize_t _channels
    cdef double _rate_out_c
    # Since the last sync: chunks and input samples taken, the last chunk's
    # rate (None: no chunk); the stamper's frames at the last sync, and the
    # output frames since.
    cdef Py_ssize_t _chunks, _samples, _stamp_base, _frames
    cdef object _last_rate

    def __cinit__(self, fallback, fail):
        self._fallback = fallback
        self._fail = fail
        self._armed = False

    def arm(self, Chain chain, buffer_type, dtype, rate_in, int ndim, Py_ssize_t channels, rate_out,
            frame_ms, event_type, event_rate, position, stamp):
        """Take the stream's later chunks of this format (``ndim``, ``channels``
        rows, ``dtype``, ``rate_in``) through ``chain`` here. ``position``
        and ``stamp`` are the session's Position and Stamper (counted as
        the general path counts them); the chain's events become
        ``event_type`` objects (``SpeechEvent``) at ``event_rate``, as
        ``VadStreamState.speech_events`` makes them."""
        self.sync()
        self._chain = chain
        self._buffer_type = buffer_type
        self._ndarray = _np.ndarray
        self._dtype = dtype
        self._rate_in = rate_in
        self._ndim = ndim
        self._channels = channels
        self._rate_out = rate_out
        self._rate_out_c = rate_out
        self._frame_ms = frame_ms
        self._event_type = event_type
        self._event_rate = event_rate
        self._position = position
        self._stamp = stamp
        self._stamp_base = stamp.frames
        self._armed = True

    def disarm(self):
        """Every later chunk goes to ``fallback`` (the session ended); drops the chain."""
        self.sync()
        self._armed = False
        self._chain = None
        self._event_type = self._position = self._stamp = None

    def sync(self):
        """Add the counts of the chunks taken here since the last sync to the
        session's Position and Stamper."""
        if self._chunks:
            pos = self._position
            pos.chunks += self._chunks
            pos.samples += self._samples
            pos.rate = self._last_rate
            self._chunks = self._samples = 0
            self._last_rate = None
        if self._frames:
            self._stamp_base += self._frames
            self._stamp.frames = self._stamp_base
            self._frames = 0

    def accepts(self, chain):
        """True when ``chain`` is this binding's Chain (the one kind :meth:`arm` takes)."""
        return isinstance(chain, Chain)

    @property
    def armed(self):
        return self._armed

    cdef object _general(self, chunk):
        # The session's general path, with the counts it reads brought up to date.
        if not self._armed:
            return self._fallback(chunk)
        self.sync()
        out = self._fallback(chunk)
        if self._armed:  # the general path moved the stamps on
            self._stamp_base = self._stamp.frames
        return out

    cdef list _speech_events(self, tuple events):
        # VadStreamState.speech_events (via vad_stream._speech_event) in C: a
        # SpeechEvent per (kind, sample), its fields filled in directly.
        out = []
        for pair in events:
            kind, sample = pair
            e = rm_tp_new(self._event_type, _NO_ARGS)
            d = e.__dict__
            d[_KIND] = _START if kind else _END
            d[_SAMPLE] = sample
            d[_TIME_S] = sample / self._event_rate
            d[_AUDIO] = None
            out.append(e)
        return out

    cdef object _failed(self, exc, bint native):
        self.sync()
        return self._fail(exc, native)

    def push(self, chunk):
        """Process one chunk; the output AudioBuffer, or what ``fallback`` returns."""
        cdef Py_buffer buf
        cdef Py_ssize_t frames, n
        cdef size_t made = 0
        cdef bint whole_buffer
        if not self._armed:
            return self._general(chunk)
        whole_buffer = type(chunk) is self._buffer_type
        if whole_buffer:
            data = chunk.data
            rate = chunk.sample_rate
        elif type(chunk) is tuple and len(<tuple>chunk) == 2 and type((<tuple>chunk)[1]) is int:
            # (array, rate): what AudioBuffer(array, rate) holds when the checks
            # below pass (a native-endian C-contiguous array of the stream's
            # format, an int rate), with no metadata.
            data = (<tuple>chunk)[0]
            rate = (<tuple>chunk)[1]
        else:
            return self._general(chunk)
        if type(data) is not self._ndarray or data.dtype is not self._dtype or not (rate == self._rate_in):
            return self._general(chunk)
        try:
            PyObject_GetBuffer(data, &buf, PyBUF_C_CONTIGUOUS)
        except Exception:
            return self._general(chunk)  # not C-contiguous: the general path copies it
        if buf.ndim != self._ndim or (self._ndim == 2 and buf.shape[0] != self._channels):
            PyBuffer_Release(&buf)
            return self._general(chunk)
        frames = buf.shape[buf.ndim - 1]
        try:
            try:
                y, flags = self._chain._call_buffer(&buf, False, &made)
                events = self._chain._events()
            except Exception as exc:
                raise self._failed(exc, True) from exc
        finally:
            PyBuffer_Release(&buf)
        try:
            if y is None:  # no stage changes the audio: the output is the input
                y = data
                made = frames
            out = rm_tp_new(self._buffer_type, _NO_ARGS)
            out.data = y
            out.sample_rate = self._rate_out
            ev = self._speech_events(events) if events else []
            meta_in = chunk.metadata if whole_buffer else None
            if meta_in:
                meta = PyDict_Copy(meta_in) if type(meta_in) is dict else {**meta_in}
                meta[_VAD_FLAGS] = flags
                meta[_VAD_EVENTS] = ev
                meta[_VAD_FRAME_MS] = self._frame_ms
            else:
                meta = None
        except Exception as exc:
            raise self._failed(exc, False) from exc
        self._chunks += 1
        self._samples += frames
        self._last_rate = rate
        n = self._stamp_base + self._frames
        self._frames += made
        # start_s as Python's int / int: exact operands, one rounding (beyond 2**53, Python's own).
        start_s = <double>n / self._rate_out_c if n < 9007199254740992 else n / self._rate_out
        if meta is None:  # the common case: one dict built in one go
            meta = {_VAD_FLAGS: flags, _VAD_EVENTS: ev, _VAD_FRAME_MS: self._frame_ms,
                    _START_SAMPLE: n, _START_S: start_s}
        else:
            meta[_START_SAMPLE] = n
            meta[_START_S] = start_s
        out.metadata = meta
        return out
