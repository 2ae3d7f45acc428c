"""Run only by tests/test_shared_data.py (not collected by default): one test on the shared recordings."""

from pathlib import Path


def test_reads_the_shared_recordings(shared_data: Path) -> None:
    assert (shared_data / "real-speech" / "doing_the_dishes.wav").stat().st_size > 0
