"""Manifests from untrusted or broken sources: one clear ManifestError, never a traceback.

Each malformed input is refused with a ManifestError naming the field
(through ``Pipeline.from_manifest`` and through ``remotemedia validate``,
which answers in one line with exit status 1); file paths can be confined
to a root (``Pipeline.from_manifest(spec, root=...)``, and ``remotemedia
run`` confines them to its output folder); graph building is linear.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from batch_helpers import run_cli, speech_like
from remotemedia import Pipeline
from remotemedia.core.errors import ManifestError
from remotemedia.core.graph import Graph
from remotemedia.nodes import DownmixNode


def _node(node_type: str, params: dict[str, Any] | None = None, id_: str = "n") -> dict[str, Any]:
    return {"id": id_, "node_type": node_type, "params": params or {}}


def _manifest(*nodes: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "name": "m", "nodes": list(nodes)}


BASE_TEXT = '{"version": 1, "nodes": [{"id": "a", "node_type": "DownmixNode"}]}'

# (file bytes, field in the error, message fragment)
BAD_FILES = [
    pytest.param(
        b'{"version": 1, "nodes": [{"id": "a", "node_type": "DownmixNode", "params": {"x": '
        + b"[" * 100_000
        + b"]" * 100_000
        + b"}}]}",
        "{file}",
        "nested too deeply (a manifest nests at most 64 levels)",
        id="deep-nesting-100k",
    ),
    pytest.param(
        b'{"version": 1, "nodes": [{"id": "a", "node_type": "DownmixNode", "params": {"x": '
        + b"[" * 70
        + b"]" * 70
        + b"}}]}",
        "nodes[0].params.x...",
        "nested too deeply (at most 64 levels)",
        id="deep-nesting-70",
    ),
    pytest.param(
        b'{"version": 1, "nodes": [{"id": "a", "node_type": "AudioResampleNode", "params": {"target_rate": '
        + b"1" * 5000
        + b"}}]}",
        "nodes[0].params.target_rate",
        "integer with 5000 digits is out of range",
        id="5000-digit-integer",
    ),
    pytest.param(
        '{"version": 1, "name": "café", "nodes": [{"id": "a", "node_type": "DownmixNode"}]}'.encode("latin-1"),
        "{file}",
        "not UTF-8 text (byte 0xe9 at offset 27); save it as UTF-8",
        id="latin-1",
    ),
    pytest.param(b"null", "(root)", "a manifest is a JSON object ({...}) at the top level, got null", id="null"),
    pytest.param(b"[1, 2]", "(root)", "a manifest is a JSON object ({...}) at the top level, got list", id="list"),
    pytest.param(
        b'{"version": 1, "nodes": [{"id": "a", "node_type": "DownmixNode"}], '
        b'"nodes": [{"id": "b", "node_type": "DownmixNode"}]}',
        "nodes",
        "duplicate key 'nodes' in one JSON object; each key may appear once",
        id="duplicate-top-level-key",
    ),
    pytest.param(
        b'{"version": 1, "nodes": [{"id": "a", "node_type": "VADNode", "params": {"padding_ms": 1, "padding_ms": 2}}]}',
        "nodes[0].params.padding_ms",
        "duplicate key 'padding_ms'",
        id="duplicate-param",
    ),
    pytest.param(
        b'{"version": 1, "nodes": [{"id": "a", "node_type": "VADNode", "params": {"padding_ms": NaN}}]}',
        "nodes[0].params.padding_ms",
        "NaN is not a number a manifest accepts",
        id="NaN",
    ),
    pytest.param(
        b'{"version": 1, "nodes": [{"id": "a", "node_type": "VADNode", "params": {"padding_ms": -Infinity}}]}',
        "nodes[0].params.padding_ms",
        "-Infinity is not a number a manifest accepts",
        id="Infinity",
    ),
    pytest.param(
        b'{"version": 1, "nodes": [{"id": "a", "node_type": "VADNode", "params": {"padding_ms": 1e999}}]}',
        "nodes[0].params.padding_ms",
        "inf is not a number a manifest accepts (finite only)",
        id="float-overflow",
    ),
    pytest.param(
        b'{"version": 1, "nodes": [{"id": "a", "node_type": "VADNode", "params": {"padding_ms": 1e308}}]}',
        "nodes[0].params.padding_ms",
        "padding_ms must be at most 1e+09, got 1e+308",
        id="padding-1e308",
    ),
]


@pytest.mark.parametrize(("content", "field", "fragment"), BAD_FILES)
def test_bad_manifest_files_are_one_manifest_error_naming_the_field(
    tmp_path: Path, content: bytes, field: str, fragment: str
) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(content)
    want = field.replace("{file}", str(path))
    with pytest.raises(ManifestError) as info:
        Pipeline.from_manifest(path)
    assert info.value.field == want
    assert fragment in info.value.detail
    # the CLI: one line on stderr, exit status 1, no traceback
    done = subprocess.run(
        [sys.executable, "-m", "remotemedia", "validate", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and fragment in done.stderr


def test_manifest_dicts_get_the_same_number_checks() -> None:
    m = _manifest(_node("VADNode", {"hangover_ms": float("inf")}))
    with pytest.raises(ManifestError, match=r"at nodes\[0\].params.hangover_ms: inf is not a number"):
        Pipeline.from_manifest(m)
    m = _manifest(_node("AudioResampleNode", {"target_rate": 10**30}))
    with pytest.raises(ManifestError, match=r"at nodes\[0\].params.target_rate: integer is out of range"):
        Pipeline.from_manifest(m)
    deep: Any = []
    for _ in range(200):
        deep = [deep]
    with pytest.raises(ManifestError, match=r"nested too deeply"):
        Pipeline.from_manifest(_manifest(_node("DownmixNode", {"x": deep})))


def test_json_text_is_parsed_not_taken_as_a_path() -> None:
    p = Pipeline.from_manifest(BASE_TEXT)
    assert [n.name for n in p.nodes] == ["a"]
    with pytest.raises(ManifestError, match=r"at \(JSON text\):1:\d+: not valid JSON"):
        Pipeline.from_manifest('{"version": 1,')


def test_a_bom_is_accepted_and_a_missing_file_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + BASE_TEXT.encode())
    assert len(Pipeline.from_manifest(path)) == 1
    with pytest.raises(ManifestError, match="cannot read the file: No such file or directory"):
        Pipeline.from_manifest(tmp_path / "missing.json")


# confinement -------------------------------------------------------------------


def _sink_manifest(path: str) -> dict[str, Any]:
    m = _manifest(
        _node("FormatConverterNode", {"target_format": "f32"}, "conv"), _node("AudioFileSink", {"path": path}, "sink")
    )
    m["connections"] = [{"from": "conv", "to": "sink"}]
    return m


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("../x.wav", "leads outside"),
        ("sub/../../x.wav", "leads outside"),
        ("/etc/x.wav", "absolute path '/etc/x.wav' is not allowed here"),
        ("link/x.wav", "leads outside"),
    ],
)
def test_paths_outside_the_root_are_refused(tmp_path: Path, path: str, fragment: str) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(tmp_path)  # a symbolic link leading out of the root
    with pytest.raises(ManifestError) as info:
        Pipeline.from_manifest(_sink_manifest(path), root=root)
    assert info.value.field == "nodes[1].params.path"
    assert "AudioFileSink (id 'sink')" in info.value.detail and fragment in info.value.detail
    assert str(root.resolve()) in info.value.detail


def test_relative_paths_resolve_inside_the_root(tmp_path: Path, runtime_env: tuple[str, Any]) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    p = Pipeline.from_manifest(_sink_manifest("sub/../out.wav"), root=root)
    assert p["sink"].path == str(root.resolve() / "out.wav")
    x = (0.1 * np.sin(np.arange(4800) / 10)).astype(np.float32)
    p.run_sync((x, 48000))
    data, rate = sf.read(root / "out.wav", dtype="float32")
    assert rate == 48000 and np.allclose(data, x)
    assert sorted(os.listdir(tmp_path)) == ["root"]


def test_without_a_root_paths_are_taken_as_written(tmp_path: Path) -> None:
    p = Pipeline.from_manifest(_sink_manifest(str(tmp_path / "abs.wav")))
    assert p["sink"].path == str(tmp_path / "abs.wav")


def test_remotemedia_run_confines_manifest_paths_to_the_output_folder(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    sf.write(tmp_path / "in" / "a.wav", speech_like(1.0, 16000, seed=1), 16000)
    manifest = _sink_manifest("../escaped.wav")
    (tmp_path / "evil.json").write_text(json.dumps(manifest))
    done = run_cli("evil.json", "in", "-o", "out", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "invalid manifest at nodes[1].params.path" in done.stderr and "leads outside" in done.stderr
    assert not (tmp_path / "escaped.wav").exists()


# linear building ---------------------------------------------------------------


class _CountingList(list):  # type: ignore[type-arg]
    scans = 0

    def __contains__(self, item: object) -> bool:
        type(self).scans += 1
        return super().__contains__(item)


class _CountingDict(dict):  # type: ignore[type-arg]
    scans = 0

    def values(self):  # type: ignore[no-untyped-def]
        type(self).scans += 1
        return super().values()


def test_adding_and_connecting_never_scan_what_is_already_there() -> None:
    g = Graph()
    g.edges = _CountingList()
    g.nodes = _CountingDict()
    for i in range(300):
        g.add(DownmixNode(name=f"n{i}"))
        if i:
            g.connect(f"n{i - 1}", f"n{i}")
    for _ in range(300):
        g.add(DownmixNode())  # automatic names: DownmixNode, DownmixNode_1, ...
    assert (_CountingList.scans, _CountingDict.scans) == (0, 0)
    assert "DownmixNode_299" in g.nodes


def test_a_20k_node_manifest_builds_and_orders_like_a_small_one() -> None:
    n = 20_000
    m = {
        "version": 1,
        "nodes": [{"id": f"n{i}", "node_type": "DownmixNode"} for i in range(n)],
        "connections": [{"from": f"n{i}", "to": f"n{i + 1}"} for i in range(n - 1)],
    }
    p = Pipeline.from_manifest(m)
    order = p.plan().topology.order
    assert order[0] == "n0" and order[-1] == f"n{n - 1}" and len(order) == n
    # ties between ready nodes keep insertion order
    fan = Pipeline.from_manifest(
        {
            "version": 1,
            "nodes": [{"id": i, "node_type": "DownmixNode"} for i in ("s", "c", "a", "b")],
            "connections": [{"from": "s", "to": x} for x in ("c", "a", "b")],
        }
    )
    assert fan.plan().topology.order == ("s", "c", "a", "b")
