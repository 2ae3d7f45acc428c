"""Resume fingerprints: bounded reads, and which input changes make a file be redone."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from batch_helpers import make_collection
from remotemedia.batch import fingerprint as fp
from remotemedia.batch import run_batch

BIG = 3 * 1024 * 1024  # well above the sampled budget


def _file(path: Path, size: int, seed: int = 0) -> Path:
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes())
    return path


def _poke(path: Path, offset: int, keep_mtime: bool = True) -> None:
    """Flip one byte at ``offset`` in place; restore the modification time unless told not to."""
    st = path.stat()
    with open(path, "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([byte[0] ^ 0xFF]))
    if keep_mtime:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size


def _unsampled_offset(size: int) -> int:
    covered = np.zeros(size, bool)
    for offset, length in fp._spans(size):
        covered[offset : offset + length] = True
    return int(np.flatnonzero(~covered)[len(np.flatnonzero(~covered)) // 2])


@pytest.mark.parametrize("size", [0, 1, 1000, 200 * 1024, BIG, 50 * BIG])
def test_reads_are_bounded_whatever_the_size(size: int) -> None:
    spans = fp._spans(size)
    budget = 2 * fp.EDGE_BYTES + fp.PROBES * fp.PROBE_BYTES
    assert sum(length for _, length in spans) == min(size, budget)
    assert all(offset >= 0 and offset + length <= size for offset, length in spans)
    assert spans[0][0] == 0 and spans[-1][0] + spans[-1][1] == size  # both ends always covered


def test_an_unchanged_file_matches(tmp_path: Path) -> None:
    path = _file(tmp_path / "a.bin", BIG)
    record = json.loads(json.dumps(fp.fingerprint(path)))  # as stored in a sidecar
    assert record["size"] == BIG and record["mtime_ns"] == path.stat().st_mtime_ns
    assert fp.matches(path, record)


@pytest.mark.parametrize(
    "change",
    ["append", "truncate", "mtime", "head", "tail", "sampled middle", "header byte 0", "last byte"],
)
def test_changed_inputs_do_not_match(tmp_path: Path, change: str) -> None:
    path = _file(tmp_path / "a.bin", BIG)
    record = fp.fingerprint(path)
    if change == "append":
        with open(path, "ab") as fh:
            fh.write(b"\0")
    elif change == "truncate":
        os.truncate(path, BIG - 1)
    elif change == "mtime":
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    else:
        offset = {
            "head": fp.EDGE_BYTES // 2,
            "tail": BIG - fp.EDGE_BYTES // 2,
            "sampled middle": fp._spans(BIG)[4][0] + 10,
            "header byte 0": 0,
            "last byte": BIG - 1,
        }[change]
        _poke(path, offset)  # same size, same mtime: only the bytes tell
    assert not fp.matches(path, record)


def test_any_byte_of_a_small_file_counts(tmp_path: Path) -> None:
    size = 2 * fp.EDGE_BYTES + fp.PROBES * fp.PROBE_BYTES - 1000  # under the budget: hashed whole
    path = _file(tmp_path / "a.bin", size)
    record = fp.fingerprint(path)
    for offset in (0, size // 3, size // 2, size - 1):
        _poke(path, offset)
        assert not fp.matches(path, record), offset
        _poke(path, offset)  # flip back: the original bytes match again
        assert fp.matches(path, record)


def test_trade_off_an_unsampled_middle_change_with_restored_mtime_is_not_seen(tmp_path: Path) -> None:
    # Documented in batch/fingerprint.py and the README: equal size, equal
    # mtime, equal sampled bytes count as unchanged. `touch` forces a redo.
    path = _file(tmp_path / "a.bin", BIG)
    record = fp.fingerprint(path)
    _poke(path, _unsampled_offset(BIG))
    assert fp.matches(path, record)
    os.utime(path)  # touch
    assert not fp.matches(path, record)


def test_records_from_another_scheme_or_missing_files_never_match(tmp_path: Path) -> None:
    path = _file(tmp_path / "a.bin", BIG)
    record = fp.fingerprint(path)
    old_sidecar = {k: record[k] for k in ("size", "mtime_ns")} | {"blake2b": "0" * 32}
    assert not fp.matches(path, old_sidecar)
    assert not fp.matches(path, record | {"fingerprint_scheme": "something else"})
    assert not fp.matches(tmp_path / "gone.bin", record)


def test_resume_redoes_an_input_whose_head_changed_under_the_same_size_and_mtime(tmp_path: Path) -> None:
    good = make_collection(tmp_path / "in", n_good=2, seconds=2.0, bad=False)
    out = tmp_path / "out"
    first = run_batch([tmp_path / "in"], "speech-16k", out, workers=1, progress="none")
    assert first.ok == 2
    victim = tmp_path / "in" / good[0]
    _poke(victim, 200)  # inside the first data samples, past the header
    again = run_batch([tmp_path / "in"], "speech-16k", out, workers=1, progress="none", resume=True)
    assert (again.ok, again.skipped) == (1, 1)
    sidecar = json.loads((out / Path(good[0]).with_suffix(".wav.json")).read_text())
    assert fp.matches(victim, sidecar["input"])  # the redone file's sidecar describes the new bytes


@pytest.mark.parametrize("size", [0, 1, 1000, 64 * 1024, 64 * 1024 + 1, 200 * 1024, BIG])
def test_the_digest_is_that_of_the_spans_read_through_a_file_object(tmp_path: Path, size: int) -> None:
    """Sidecars written before keep matching: the same bytes hashed, read with seek + read."""
    import hashlib

    path = _file(tmp_path / "a.bin", size, seed=size)
    digest = hashlib.blake2b(digest_size=16)
    digest.update(size.to_bytes(8, "little"))
    with open(path, "rb") as fh:
        for offset, length in fp._spans(size):
            fh.seek(offset)
            digest.update(fh.read(length))
    assert fp.fingerprint(path)["sampled_blake2b"] == digest.hexdigest()


def test_a_folder_or_a_missing_file_fails_as_opening_it_does(tmp_path: Path) -> None:
    for target in (tmp_path, tmp_path / "missing.wav"):
        with pytest.raises(OSError) as ours:
            fp.fingerprint(target)
        with pytest.raises(OSError) as theirs:
            open(target, "rb").close()
        assert (type(ours.value), str(ours.value)) == (type(theirs.value), str(theirs.value))
