"""Input fingerprints for ``--resume``: cheap to take, whatever the file's size.

A fingerprint is the file's size, its modification time (ns) and a
BLAKE2b digest of a bounded sample of its bytes: the first and the last
``EDGE_BYTES`` and ``PROBES`` blocks of ``PROBE_BYTES`` spread evenly in
between. Taking one reads at most ``2 * EDGE_BYTES + PROBES * PROBE_BYTES``
bytes (64 KiB), so resuming over a large collection (or a network mount)
costs a few reads per file instead of reading every input in full.

What it detects: any change of size or modification time (every ordinary
edit, re-export, copy or truncation changes one of them), and a change of
the container header, of the last frames and trailing tags, or of any
sampled block even when size and modification time were restored.

What it does not detect (the trade-off): a change confined to the
unsampled middle of a file whose size *and* modification time are both
unchanged. That takes a tool that rewrites bytes in place and then resets
the time stamp (``touch -d``, ``cp -p``/``rsync -t`` of a different file
of the same length), or a filesystem with coarse time stamps rewritten
within one tick. To force such a file to be redone, ``touch`` it (or run
without ``--resume``).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Any

#: Bytes hashed at each end of the file: the container header and the tail
#: (last frames, trailing tags / chunks). 16 KiB holds a WAV or FLAC header
#: and ordinary tags; 64 KiB cost twice the time per file (1.5% of a batch
#: run of short files) for bytes whose change nearly always changes the size.
EDGE_BYTES = 16 * 1024
#: Blocks sampled between the two ends, evenly spaced, and their length.
PROBES = 8
PROBE_BYTES = 4 * 1024
#: Names what the digest covers; a sidecar with another scheme never matches
#: (so changing the sampling can never make a changed file look complete).
SCHEME = f"blake2b-128 head+tail {EDGE_BYTES} + {PROBES}x{PROBE_BYTES}"


def _spans(size: int) -> list[tuple[int, int]]:
    """The (offset, length) ranges hashed for a file of ``size`` bytes, in order."""
    if size <= 2 * EDGE_BYTES + PROBES * PROBE_BYTES:
        return [(0, size)]
    spans = [(0, EDGE_BYTES)]
    middle = size - 2 * EDGE_BYTES
    step = middle // (PROBES + 1)
    spans += [(EDGE_BYTES + step * (k + 1) - PROBE_BYTES // 2, PROBE_BYTES) for k in range(PROBES)]
    spans.append((size - EDGE_BYTES, EDGE_BYTES))
    return spans


def _open(path: str | os.PathLike[str]) -> int:
    """A read-only descriptor of ``path`` (the flags ``open(path, "rb")`` uses)."""
    return os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))


def _read_at(fd: int, offset: int, length: int) -> bytes:
    """``length`` bytes from ``offset`` (fewer at the end of the file), as a file object's seek + read give.

    One ``pread`` per span where there is one (no ``lseek``, no Python buffer
    in between: a fingerprint is ten small reads per file on the reader's
    thread), else ``lseek`` and ``read``.
    """
    if not hasattr(os, "pread"):
        os.lseek(fd, offset, os.SEEK_SET)
        chunks, left = [], length
        while left and (chunk := os.read(fd, left)):
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    data = os.pread(fd, length, offset)
    while 0 < len(data) < length:  # a short read before the end: go on where it stopped
        more = os.pread(fd, length - len(data), offset + len(data))
        if not more:
            break
        data += more
    return data


def fingerprint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """``{"size", "mtime_ns", "sampled_blake2b", "fingerprint_scheme"}`` of one file.

    Raises
    ------
    OSError
        The file cannot be opened or read.
    """
    from remotemedia.batch.digest import blake2b

    fd = _open(path)
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):  # as open() refuses it
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(path))
        digest = blake2b(digest_size=16)
        digest.update(st.st_size.to_bytes(8, "little"))
        for offset, length in _spans(st.st_size):
            digest.update(_read_at(fd, offset, length))
    finally:
        os.close(fd)
    return {
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "sampled_blake2b": digest.hexdigest(),
        "fingerprint_scheme": SCHEME,
    }


def matches(path: str | os.PathLike[str], recorded: dict[str, Any]) -> bool:
    """True if ``path`` still has the fingerprint ``recorded`` (a sidecar's ``input``).

    Size and modification time are compared first (one ``stat``); the
    sampled bytes are read only when both still match. A record from
    another fingerprint scheme (or an older sidecar without one) never
    matches, so such files are redone rather than trusted.
    """
    if recorded.get("fingerprint_scheme") != SCHEME:
        return False
    try:
        st = Path(path).stat()
        if st.st_size != recorded.get("size") or st.st_mtime_ns != recorded.get("mtime_ns"):
            return False
        now = fingerprint(path)
    except OSError:
        return False
    return all(recorded.get(key) == value for key, value in now.items())
