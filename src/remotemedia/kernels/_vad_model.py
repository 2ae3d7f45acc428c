"""The VAD's model file: a small integer MLP shared by every body.

``remotemedia/data/vad_model.bin`` (written by ``scripts/train_vad.py``,
read here and, through ``include_bytes!``, by the Rust body) holds, in
little-endian order:

- the magic ``b"RMVAD001"``;
- seven uint32: inputs, hidden1, hidden2, shift1, shift2, shift3, table length;
- W1 (hidden1 x inputs, int16), b1 (hidden1, int32), W2 (hidden2 x hidden1,
  int16), b2 (int32), W3 (hidden2, int16), b3 (one int32);
- the sigmoid table (uint16, ``table length`` entries, 0 .. SCORE_ONE).

Evaluation (both bodies, integers only): h1 = clip((W1 x + b1) >> shift1,
0, 4095); h2 likewise with W2 and shift2; logit = (W3 h2 + b3) >> shift3
(1/16 units), clipped to the table; score = table[logit + table length / 2].
Every weight is at most 2047 in magnitude and every activation at most
4095, so int32 sums cannot overflow and the order of summation is free.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

MAGIC = b"RMVAD001"
HIDDEN_MAX = 4095
WEIGHT_MAX = 2047
PATH = Path(__file__).resolve().parents[1] / "data" / "vad_model.bin"


@dataclass(frozen=True)
class Model:
    """Quantised weights (int64 arrays, for exact numpy arithmetic)."""

    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    w3: np.ndarray
    b3: int
    shifts: tuple[int, int, int]
    table: np.ndarray

    def to_bytes(self) -> bytes:
        """The file format described in the module docstring."""
        h1, n_in = self.w1.shape
        h2 = self.w2.shape[0]
        head = MAGIC + struct.pack("<7I", n_in, h1, h2, *self.shifts, self.table.size)
        return (
            head
            + self.w1.astype("<i2").tobytes()
            + self.b1.astype("<i4").tobytes()
            + self.w2.astype("<i2").tobytes()
            + self.b2.astype("<i4").tobytes()
            + self.w3.astype("<i2").tobytes()
            + struct.pack("<i", int(self.b3))
            + self.table.astype("<u2").tobytes()
        )


def parse(data: bytes) -> Model:
    """Read a model file; ``ValueError`` when it is not one."""
    if data[:8] != MAGIC:
        raise ValueError("VAD model: bad magic (not a remotemedia VAD model file)")
    n_in, h1, h2, s1, s2, s3, nt = struct.unpack_from("<7I", data, 8)
    pos = 8 + 28

    def take(dtype: str, count: int) -> np.ndarray:
        nonlocal pos
        a = np.frombuffer(data, dtype, count, pos).astype(np.int64)
        pos += a.nbytes // 8 * np.dtype(dtype).itemsize
        return a

    w1 = take("<i2", h1 * n_in).reshape(h1, n_in)
    b1 = take("<i4", h1)
    w2 = take("<i2", h2 * h1).reshape(h2, h1)
    b2 = take("<i4", h2)
    w3 = take("<i2", h2)
    b3 = int(take("<i4", 1)[0])
    table = take("<u2", nt)
    if pos != len(data):
        raise ValueError(f"VAD model: {len(data) - pos} trailing bytes")
    return Model(w1, b1, w2, b2, w3, b3, (s1, s2, s3), table)


@cache
def load() -> Model:
    """The shipped model."""
    return parse(PATH.read_bytes())


def forward(m: Model, x: np.ndarray) -> np.ndarray:
    """Scores (int64, 0 .. SCORE_ONE) of input rows ``x`` (int64, blocks x inputs)."""
    s1, s2, s3 = m.shifts
    h = np.clip((x @ m.w1.T + m.b1) >> s1, 0, HIDDEN_MAX)
    h = np.clip((h @ m.w2.T + m.b2) >> s2, 0, HIDDEN_MAX)
    half = m.table.size // 2
    logit = np.clip((h @ m.w3 + m.b3) >> s3, -half, half - 1)
    return m.table[logit + half]
