"""The native FLAC decoder (rm_flac_decode) gives libsndfile's samples bit for bit, or refuses.

Every runtime is checked: the native ones decode and must equal
``soundfile.read(dtype="int16")`` (and the raw values for 24-bit, through
the int32 output) on files from three encoders (libsndfile's libFLAC at
several compression levels, sox, the ``flac`` command line when installed)
and the shared recordings; the pure-Python one has no decoder, and the
batch reader's fallback (libsndfile) is what runs there. Damaged streams
(a flipped byte, a cut, a wrong STREAMINFO, random damage) are refused
with ValueError, never a crash, and the batch job then reads them with
libsndfile: its outputs and failures are the same with the decoder on or
off (``REMOTEMEDIA_NATIVE_FLAC``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from batch_helpers import run_cli, speech_like
from remotemedia import kernels, runtime
from remotemedia.batch import decode, nativeflac, readahead
from remotemedia.errors import RuntimeUnavailableError

SUBTYPE_BITS = {"PCM_S8": 8, "PCM_16": 16, "PCM_24": 24}


def _signal(kind: str, frames: int, channels: int, rate: int, seed: int = 0) -> np.ndarray:
    """(frames, channels) float64 in [-1, 1): silence, noise, tones or speech-like bursts."""
    rng = np.random.default_rng(seed)
    if kind == "silence":
        return np.zeros((frames, channels))
    if kind == "noise":
        return rng.uniform(-0.99, 0.99, (frames, channels))
    if kind == "speech":
        return speech_like(frames / rate, rate, seed, channels)[:frames].astype(np.float64)
    t = np.arange(frames)[:, None] / rate
    f = 110.0 * (1 + np.arange(channels))[None, :]
    return 0.6 * np.sin(2 * np.pi * f * t) + 0.2 * np.sin(2 * np.pi * 3.1 * f * t) + 0.01 * rng.standard_normal(t.shape)


def _write(path: Path, x: np.ndarray, rate: int, subtype: str, level: float | None = None) -> Path:
    bits = SUBTYPE_BITS[subtype]
    ints = np.clip(np.round(x * 2 ** (bits - 1)), -(2 ** (bits - 1)), 2 ** (bits - 1) - 1).astype(np.int32)
    extra = {} if level is None else {"compression_level": level}
    sf.write(path, ints << (32 - bits), rate, subtype=subtype, format="FLAC", **extra)
    return path


def _binding(ks: kernels.KernelSet) -> Any:
    module, _ = runtime.load_binding(ks.binding or "")
    assert module is not None
    return module


def _check_equal(ks: kernels.KernelSet, path: Path, block_frames: int | None = None) -> None:
    """The native decode of ``path`` equals libsndfile's, as int16 blocks (8/16-bit) or raw int32 (any width)."""
    info = sf.info(str(path))
    data = path.read_bytes()
    bits = SUBTYPE_BITS[info.subtype]
    raw = sf.read(str(path), dtype="int32", always_2d=True)[0].T >> (32 - bits)
    wide = np.empty(info.frames * info.channels, np.int32)
    _binding(ks).flac_decode_i32(data, info.channels, info.frames, max(1, info.frames), wide)
    np.testing.assert_array_equal(wide.reshape(info.channels, info.frames), raw, err_msg=str(path))
    if bits > 16:
        with pytest.raises(ValueError, match="24-bit samples"):
            ks.decode_flac(data, info.channels, info.frames, 4096)
        return
    ref = sf.read(str(path), dtype="int16", always_2d=True)[0].T
    block = block_frames or max(1, info.frames)
    blocks = ks.decode_flac(data, info.channels, info.frames, block)
    assert len(blocks) == -(-info.frames // block)
    for i, b in enumerate(blocks):
        assert b.dtype == np.int16 and b.flags.c_contiguous
        assert b.ndim == (1 if info.channels == 1 else 2)
        want = ref[:, i * block : (i + 1) * block]
        np.testing.assert_array_equal(b.reshape(want.shape), want, err_msg=f"{path} block {i}")


@pytest.fixture
def flac_ks(native_ks: kernels.KernelSet) -> kernels.KernelSet:
    """Each native kernel set: they all decode FLAC (the pure-Python one has no decoder: see below)."""
    assert native_ks.decodes_flac
    return native_ks


def test_the_python_kernel_set_has_no_decoder_and_says_so() -> None:
    # Its other body is libsndfile itself: the batch reader falls back to soundfile there.
    ks = kernels.get("python")
    assert not ks.decodes_flac
    with pytest.raises(RuntimeUnavailableError):
        ks.decode_flac(b"fLaC", 1, 0, 1)


def test_soundfile_writes_compression_levels() -> None:
    # The levels below reach libFLAC's presets only if soundfile passes them on.
    assert "compression_level" in sf.write.__code__.co_varnames


@pytest.mark.parametrize("level", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("channels", [1, 2, 3, 6, 8])
def test_libsndfile_files_at_every_level_and_channel_count(
    flac_ks: kernels.KernelSet, tmp_path: Path, level: float, channels: int
) -> None:
    for kind in ("sine", "speech"):
        path = _write(tmp_path / f"{kind}.flac", _signal(kind, 20000, channels, 44100), 44100, "PCM_16", level)
        _check_equal(flac_ks, path)
        _check_equal(flac_ks, path, block_frames=4410)


@pytest.mark.parametrize("subtype", ["PCM_S8", "PCM_16", "PCM_24"])
@pytest.mark.parametrize("rate", [8000, 22050, 48000, 96000])
def test_sample_widths_and_rates(flac_ks: kernels.KernelSet, tmp_path: Path, subtype: str, rate: int) -> None:
    for channels in (1, 2):
        for kind in ("silence", "noise", "sine"):
            path = _write(tmp_path / f"{kind}{channels}.flac", _signal(kind, 9000, channels, rate), rate, subtype, 0.6)
            _check_equal(flac_ks, path, block_frames=rate // 3)


@pytest.mark.parametrize("frames", [1, 2, 15, 4095, 4096, 4097, 3 * 4096 + 1, 10007])
def test_odd_lengths_and_a_short_last_block(flac_ks: kernels.KernelSet, tmp_path: Path, frames: int) -> None:
    for channels in (1, 2):
        path = _write(tmp_path / f"n{channels}.flac", _signal("speech", frames, channels, 16000, 3), 16000, "PCM_16")
        _check_equal(flac_ks, path)
        _check_equal(flac_ks, path, block_frames=1000)


def test_wasted_bits(flac_ks: kernels.KernelSet, tmp_path: Path) -> None:
    x = _signal("sine", 30000, 2, 32000)
    for drop in (1, 3, 8):
        ints = (np.round(x * 32767).astype(np.int32) >> drop) << drop  # low bits all zero
        path = tmp_path / f"w{drop}.flac"
        sf.write(path, (ints << 16).astype(np.int32), 32000, subtype="PCM_16", format="FLAC")
        _check_equal(flac_ks, path)


@pytest.mark.skipif(shutil.which("sox") is None, reason="sox is not installed (apt-get install sox)")
@pytest.mark.parametrize("compression", ["0", "5", "8"])
def test_files_made_by_sox(flac_ks: kernels.KernelSet, tmp_path: Path, compression: str) -> None:
    synth = ["synth", "3.3", "sine", "200-3000", "sine", "440", "whitenoise", "vol", "0.4"]
    for rate, channels, bits in (("16000", "1", "16"), ("44100", "2", "16"), ("48000", "2", "24"), ("22050", "1", "8")):
        path = tmp_path / f"sox{rate}.flac"
        command = ["sox", "-n", "-r", rate, "-c", channels, "-b", bits, "-C", compression, str(path), *synth]
        subprocess.run(command, check=True, capture_output=True)
        _check_equal(flac_ks, path, block_frames=5000)


@pytest.mark.skipif(
    shutil.which("flac") is None, reason="the flac command line is not installed (apt-get install flac)"
)
@pytest.mark.parametrize(
    "options",
    [
        ["-0"],
        ["-5"],
        ["-8"],
        ["--lax", "-l", "32", "-b", "4608"],
        ["--lax", "-l", "32", "-r", "15", "-p", "-b", "8192"],
        ["-b", "192", "-m"],
        ["-b", "576", "--no-mid-side", "-e"],
        ["--lax", "-b", "65535", "-l", "12"],
    ],
)
def test_files_made_by_the_flac_command(flac_ks: kernels.KernelSet, tmp_path: Path, options: list[str]) -> None:
    for channels, rate, subtype in ((2, 44100, "PCM_16"), (1, 16000, "PCM_16"), (2, 96000, "PCM_24")):
        wav = tmp_path / "in.wav"
        x = _signal("speech", 70001, channels, rate) + 0.3 * _signal("sine", 70001, channels, rate)
        sf.write(wav, np.clip(x, -1, 1), rate, subtype=subtype)
        out = tmp_path / "out.flac"
        subprocess.run(["flac", "-s", "-f", *options, "-o", str(out), str(wav)], check=True, capture_output=True)
        _check_equal(flac_ks, out, block_frames=rate)


def test_the_shared_recordings(flac_ks: kernels.KernelSet, shared_data: Path) -> None:
    found = sorted(shared_data.rglob("*.flac"))
    if not found:
        pytest.skip(f"no FLAC among the shared recordings in {shared_data}")
    for path in found[:4]:
        _check_equal(flac_ks, path, block_frames=160000)


# ---- damaged streams ------------------------------------------------------------------------------


def _good(tmp_path: Path) -> tuple[Path, bytes, Any]:
    path = _write(tmp_path / "good.flac", _signal("speech", 30000, 2, 16000, 5), 16000, "PCM_16")
    return path, path.read_bytes(), sf.info(str(path))


def _first_frame(data: bytes) -> int:
    at = 4
    while True:
        last, size = data[at] & 0x80, int.from_bytes(data[at + 1 : at + 4], "big")
        at += 4 + size
        if last:
            return at


def test_damage_is_refused_with_a_reason(flac_ks: kernels.KernelSet, tmp_path: Path) -> None:
    _, data, info = _good(tmp_path)
    start = _first_frame(data)
    flipped = bytearray(data)
    flipped[start + (len(data) - start) // 2] ^= 0x10
    with pytest.raises(ValueError, match="CRC"):
        flac_ks.decode_flac(bytes(flipped), 2, info.frames, 1000)
    with pytest.raises(ValueError, match=r"cut off|CRC"):
        flac_ks.decode_flac(data[: len(data) - 100], 2, info.frames, 1000)
    with pytest.raises(ValueError, match="STREAMINFO says"):
        flac_ks.decode_flac(data, 2, info.frames + 1, 1000)
    wrong = bytearray(data)  # STREAMINFO's total frames (its last 4 bits of byte 21 and bytes 22-25) off by one
    total = int.from_bytes(wrong[22:26], "big") + 1
    wrong[22:26] = total.to_bytes(4, "big")
    with pytest.raises(ValueError, match=r"STREAMINFO says|more frames|cut off|block size changes"):
        flac_ks.decode_flac(bytes(wrong), 2, total, 1000)
    with pytest.raises(ValueError, match="channels"):
        flac_ks.decode_flac(data, 1, info.frames, 1000)
    with pytest.raises(ValueError, match="fLaC"):
        flac_ks.decode_flac(b"RIFF" + data[4:], 2, info.frames, 1000)


def test_random_damage_never_crashes(flac_ks: kernels.KernelSet, tmp_path: Path) -> None:
    _, data, info = _good(tmp_path)
    want = np.concatenate([b for b in flac_ks.decode_flac(data, 2, info.frames, info.frames)], axis=1)
    rng = np.random.default_rng(7)
    for _ in range(300):
        broken = bytearray(data)
        for _ in range(int(rng.integers(1, 4))):
            broken[int(rng.integers(0, len(broken)))] ^= int(rng.integers(1, 256))
        if rng.random() < 0.3:
            broken = broken[: int(rng.integers(0, len(broken)))]
        try:
            got = flac_ks.decode_flac(bytes(broken), 2, info.frames, info.frames)
        except ValueError:
            continue
        # Damage the decoder let through can only be outside the audio (a metadata field it does not use).
        np.testing.assert_array_equal(got[0], want)


def _blocks_of(path: Path, dtype: str = "int16") -> tuple[list[np.ndarray], bool]:
    """The batch reader's blocks for ``path`` and whether the native decoder gave them."""
    with sf.SoundFile(str(path)) as f:
        native = nativeflac.blocks(f, 4000, dtype) is not None
        return list(decode.planar_blocks(f, 4000, dtype)), native


def test_the_batch_reader_uses_the_decoder_only_where_it_applies(
    tmp_path: Path, runtime_env: tuple[str, str | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, data, _ = _good(tmp_path)
    native_blocks, used = _blocks_of(path)
    assert used == (runtime_env[0] == "rust")  # pure Python: libsndfile reads it (the fallback)
    monkeypatch.setenv(nativeflac.ENV, "0")
    sf_blocks, used = _blocks_of(path)
    assert not used
    assert len(native_blocks) == len(sf_blocks)
    for a, b in zip(native_blocks, sf_blocks, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape and a.flags.c_contiguous
        np.testing.assert_array_equal(a, b)
    monkeypatch.delenv(nativeflac.ENV)
    # float32, a damaged file, a 24-bit file: libsndfile (the decoder refuses or is not asked)
    assert not _blocks_of(path, "float32")[1]
    damaged = tmp_path / "damaged.flac"
    damaged.write_bytes(data[: len(data) // 2])
    with sf.SoundFile(str(damaged)) as f:
        assert nativeflac.blocks(f, 4000, "int16") is None
    wide = _write(tmp_path / "wide.flac", _signal("sine", 5000, 1, 16000), 16000, "PCM_24")
    assert not _blocks_of(wide, "int16")[1]
    monkeypatch.setenv(nativeflac.ENV, "yes")
    with pytest.raises(ValueError, match=nativeflac.ENV):
        nativeflac.enabled()


def test_the_hook_reads_the_stream_width_it_was_told(tmp_path: Path) -> None:
    for subtype, bits in (("PCM_S8", 8), ("PCM_16", 16), ("PCM_24", 24)):
        path = _write(tmp_path / f"{subtype}.flac", _signal("sine", 3000, 2, 16000), 16000, subtype)
        assert nativeflac._stream_bits(path.read_bytes()) == bits
    assert nativeflac._stream_bits(b"ID3" + bytes(40)) == 0


def test_the_size_bound_is_the_read_aheads() -> None:
    assert nativeflac.MAX_SAMPLES == readahead.MAX_SAMPLES


def _run_outputs(root: Path, out: Path, workers: str, native: str) -> tuple[dict[str, bytes], list[Any]]:
    res = run_cli(str(root), "-o", str(out), "--workers", workers, "-q", cwd=root.parent, env={nativeflac.ENV: native})
    assert res.returncode in (0, 1), res.stderr
    audio = {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*.wav"))}
    failures = [json.loads(line) for line in (out / "_remotemedia_failures.jsonl").read_text().splitlines()]
    return audio, sorted((f["relpath"], f["node"], f["error"]) for f in failures)


def test_remotemedia_run_gives_the_same_outputs_with_the_decoder_on_and_off(
    tmp_path: Path, runtime_env: tuple[str, str | None]
) -> None:
    root = tmp_path / "in"
    root.mkdir()
    for i, (rate, ch, subtype) in enumerate([(44100, 2, "PCM_16"), (16000, 1, "PCM_16"), (22050, 1, "PCM_S8")]):
        _write(root / f"f{i}.flac", _signal("speech", int(2.5 * rate), ch, rate, i), rate, subtype)
    good = (root / "f0.flac").read_bytes()
    start = _first_frame(good)
    flipped = bytearray(good)
    flipped[start + 5000] ^= 0x40
    (root / "flipped.flac").write_bytes(bytes(flipped))
    (root / "cut.flac").write_bytes(good[: len(good) * 2 // 3])
    for workers in ("1", "2"):
        on = _run_outputs(root, tmp_path / f"on{workers}", workers, "1")
        off = _run_outputs(root, tmp_path / f"off{workers}", workers, "0")
        assert sorted(on[0]) == sorted(off[0]) and len(on[0]) >= 3
        assert on == off
