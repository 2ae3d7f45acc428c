"""AudioResampleNode checks its settings with the kernel contract's own checks.

So a manifest the kernel would refuse at run time is refused when it is
built, by `remotemedia validate` too, with the kernel's message.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from remotemedia.kernels import KernelSet
from remotemedia.nodes import AudioResampleNode


@pytest.mark.parametrize("rate", [500, 7999, 192001])
def test_resample_node_refuses_what_the_kernel_refuses(rate: int, ks: KernelSet) -> None:
    """The node checks target_rate with the kernel contract's own check, so it
    fails at construction exactly where the kernel would fail at run time."""
    with pytest.raises(ValueError) as kernel_error:
        ks.resample(np.zeros(100, np.float32), 16000, rate)
    with pytest.raises(ValueError) as node_error:
        AudioResampleNode(rate)
    tail = f"target_rate {rate} Hz is outside the supported range 8000..192000 Hz"
    assert str(node_error.value) == f"AudioResampleNode: {tail}"
    assert str(kernel_error.value) == f"resample: out_rate {rate} Hz is outside the supported range 8000..192000 Hz"


def test_validate_rejects_a_target_rate_the_kernel_refuses(tmp_path) -> None:
    """`remotemedia validate` (the real CLI) rejects target_rate 500 with the kernel's message."""
    manifest = {
        "version": 1,
        "name": "too-low",
        "nodes": [{"id": "rs", "node_type": "AudioResampleNode", "params": {"target_rate": 500}}],
    }
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(manifest))
    done = subprocess.run([sys.executable, "-m", "remotemedia", "validate", str(bad)], capture_output=True, text=True)
    assert done.returncode == 1, done.stdout
    assert "INVALID" in done.stderr and "nodes[0]" in done.stderr, done.stderr
    assert "target_rate 500 Hz is outside the supported range 8000..192000 Hz" in done.stderr, done.stderr
    manifest["nodes"][0]["params"]["target_rate"] = 8000
    good = tmp_path / "good.json"
    good.write_text(json.dumps(manifest))
    done = subprocess.run([sys.executable, "-m", "remotemedia", "validate", str(good)], capture_output=True, text=True)
    assert done.returncode == 0 and ": OK" in done.stdout, done.stderr
