"""Sidecars and summaries: the same JSON value as a full indent, one top-level entry per line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from remotemedia.batch.files import json_text, write_json_atomic

VALUES = [
    {"b": 1, "a": {"z": [1, 2.5, None, "é"], "y": {"x": True}}, "c": []},
    {},
    [1, {"b": 2, "a": 1}],
    "text",
    {"metrics": {"nodes": {"vad": {"calls": 3, "mean_us": 1.25}}}, "speech_segments": [[0.5, 1.25]]},
]


@pytest.mark.parametrize("value", VALUES)
def test_same_value_sorted_keys_one_entry_per_line(value: object) -> None:
    text = json_text(value)
    assert json.loads(text) == value
    assert text.endswith("\n")
    if isinstance(value, dict) and value:
        lines = text.splitlines()
        assert lines[0] == "{" and lines[-1] == "}" and len(lines) == len(value) + 2
        assert [json.loads("{" + line.rstrip(",") + "}").popitem()[0] for line in lines[1:-1]] == sorted(value)


def test_write_json_atomic_writes_that_text(tmp_path: Path) -> None:
    write_json_atomic(tmp_path / "sub" / "x.json", VALUES[0])
    assert (tmp_path / "sub" / "x.json").read_text() == json_text(VALUES[0])
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["x.json"]
