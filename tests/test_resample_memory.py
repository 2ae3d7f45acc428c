"""The filter-design cache gives memory back (issue 11, item 6).

Each conversion at an odd ratio designs tens of MB of tables. They are
shared while a Resampler uses them and, once the last one is gone, kept
only within a small byte budget (16 MiB per cache), so a process that
works through many odd rates does not grow without bound. Measured as the
resident size of a fresh interpreter (Linux, glibc told to return large
blocks to the system at once) after Resamplers of six such ratios were
used and freed one after the other.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import AVAILABLE

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the resident size from /proc (Linux)"),
]

# Ratios whose sharp stage has 8001-16000 phases: 25 MB of float64
# coefficients each ("high"), far above the cache's byte budget.
ODD = [(44_103, 48_000), (8_001, 16_000), (12_001, 16_000), (32_001, 48_000), (16_000, 8_001), (24_001, 16_000)]

_SCRIPT = """
import gc, json, os, sys
import numpy as np
from remotemedia import kernels
body, binding, odd = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
ks = kernels.get("python") if body == "python" else kernels.get("rust", binding=binding)
page = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * page
x = (np.random.default_rng(1).standard_normal(4000) * 0.1).astype(np.float32)
def use(i, o):
    r = ks.Resampler(i, o, 1, "high")
    y = np.concatenate([r.process(x), r.flush()])
    assert y.shape[0] == -(-4000 * o // i) and np.isfinite(y).all()
use(48000, 16000)
gc.collect()
base = rss()
peak = 0
for i, o in odd:
    use(i, o)
    gc.collect()
    peak = max(peak, rss() - base)
print(json.dumps({"grown": rss() - base, "peak": peak}))
"""


@pytest.mark.parametrize("set_id", AVAILABLE)
def test_memory_returns_after_resamplers_of_many_ratios_are_freed(set_id: str) -> None:
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", MALLOC_TRIM_THRESHOLD_="65536")
    env.pop("REMOTEMEDIA_RUNTIME", None)
    body, binding = ("python", "-") if set_id == "python" else ("rust", set_id)
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, body, binding, json.dumps(ODD)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    # Kept forever, six designs would hold 150 MB (numpy) to 230 MB (Rust:
    # float64 and float32 tables). Now at most the 16 MiB budget stays,
    # plus allocator slack.
    held = got["grown"] / 2**20
    assert got["grown"] < 48 * 2**20, f"{set_id}: {held:.0f} MiB still held after all Resamplers were freed"
