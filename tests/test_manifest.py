"""Manifests: round trips, schema validation with field paths, registry, CLI."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

from remotemedia import Node, Pipeline, RetryPolicy, register_node
from remotemedia.cli import main
from remotemedia.core import registry
from remotemedia.core.build import validate
from remotemedia.core.errors import ManifestError
from remotemedia.core.manifest import schema
from remotemedia.core.schema_check import first_error
from remotemedia.nodes import AudioResampleNode, FormatConverterNode, VADNode


@register_node
class Gain(Node):
    """Multiplies numbers by ``factor`` (a registered custom node)."""

    def __init__(self, factor: float = 1.0, label: str = "", name: str | None = None, **kw: Any) -> None:
        super().__init__(name=name, **kw)
        self.factor = factor
        self.label = label

    def process(self, data: Any) -> Any:
        return data * self.factor


def _full_pipeline() -> Pipeline:
    p = Pipeline("speech", enable_metrics=True, retry=RetryPolicy(max_retries=5, initial_delay_ms=7))
    p.add_node(FormatConverterNode("i32", runtime_hint="python", name="conv"))
    p.add_node(AudioResampleNode(target_sample_rate=22050, quality="very_high", runtime_hint="rust", name="rs"))
    p.add_node(VADNode(frame_duration_ms=20, aggressiveness=3, mode="filter", name="vad"))
    p.connect("conv", Gain(0.5, label="tap", name="tap", retry=RetryPolicy(max_retries=0)))
    return p


def _manifest() -> dict[str, Any]:
    return _full_pipeline().to_manifest()


def test_every_param_and_hint_round_trips() -> None:
    m = _manifest()
    assert m["version"] == 1
    assert m["nodes"][1] == {
        "id": "rs",
        "node_type": "AudioResampleNode",
        "params": {"target_rate": 22050, "quality": "very_high"},
        "runtime_hint": "rust",
    }
    assert m["nodes"][2]["params"] == {"frame_duration_ms": 20, "aggressiveness": 3, "mode": "filter"}
    assert m["nodes"][3]["retry"]["max_retries"] == 0
    assert m["connections"] == [
        {"from": "conv", "to": "rs"},
        {"from": "rs", "to": "vad"},
        {"from": "conv", "to": "tap"},
    ]
    assert m["config"]["retry"]["max_retries"] == 5 and m["config"]["enable_metrics"] is True
    rebuilt = Pipeline.from_manifest(m)
    assert rebuilt.to_manifest() == m
    tap = rebuilt["tap"]
    assert isinstance(tap, Gain) and (tap.factor, tap.label) == (0.5, "tap")
    assert rebuilt["rs"].runtime_hint == "rust" and rebuilt["conv"].runtime_hint == "python"
    assert rebuilt.retry == RetryPolicy(max_retries=5, initial_delay_ms=7)


def test_round_trip_through_a_file(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(_manifest()))
    assert Pipeline.from_manifest(path).to_manifest() == _manifest()
    assert Pipeline.from_manifest(str(path)).name == "speech"


def test_loaded_pipeline_runs() -> None:
    m = {
        "version": 1,
        "nodes": [
            {"id": "a", "node_type": "Gain", "params": {"factor": 2}},
            {"id": "b", "node_type": "Gain", "params": {"factor": 3}},
        ],
        "connections": [{"from": "a", "to": "b"}],
    }
    assert Pipeline.from_manifest(m).run_sync(1) == 6


def _broken(path: str, value: Any) -> dict[str, Any]:
    m = copy.deepcopy(_manifest())
    *parents, last = path.split("/")
    target: Any = m
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is _DELETE:
        del target[int(last) if last.isdigit() else last]
    else:
        target[int(last) if last.isdigit() else last] = value
    return m


_DELETE = object()

BAD = [
    ("version", _DELETE, r"at \(root\): missing required field 'version'"),
    ("version", 2, "at version: unsupported manifest version 2"),
    ("nodes/1/runtime_hint", "gpu", r"at nodes\[1\].runtime_hint: must be one of 'auto', 'rust', 'python', got 'gpu'"),
    ("nodes/2/colour", "red", r"at nodes\[2\].colour: unknown field 'colour'"),
    ("nodes/0/id", "", r"at nodes\[0\].id: must have at least 1 character"),
    ("nodes/1/id", "conv", r"at nodes\[1\].id: duplicate node id 'conv' \(also nodes\[0\]\)"),
    ("connections/1/to", "ghost", r"at connections\[1\].to: dangling connection: no node has id 'ghost'"),
    ("nodes/2/node_type", "os.system", r"at nodes\[2\].node_type: unknown node_type 'os.system'"),
    (
        "nodes/1/params/target_rate",
        -5,
        r"at nodes\[1\].params.target_rate: AudioResampleNode \(id 'rs'\) rejected it: ValueError: .*target_rate",
    ),
    (
        "nodes/2/params/volume",
        3,
        r"at nodes\[2\].params.volume: VADNode \(id 'vad'\) rejected it: TypeError: .*unexpected keyword.*volume",
    ),
    ("nodes/0/params/name", "x", r"at nodes\[0\].params.name: 'name' belongs in the node entry"),
    ("config/retry/max_retries", -1, r"at config.retry.max_retries: must be >= 0, got -1"),
    (
        "config/circuit_breaker/failure_threshold",
        1.5,
        r"at config.circuit_breaker.failure_threshold: must be of type integer",
    ),
    (
        "connections/2",
        {"from": "vad", "to": "conv"},
        r"at connections: pipeline graph has a cycle: conv -> rs -> vad -> conv",
    ),
    ("nodes", [], r"at nodes: must have at least 1 item"),
]


@pytest.mark.parametrize(("path", "value", "message"), BAD, ids=[b[0] + "=" + repr(b[1])[:12] for b in BAD])
def test_invalid_manifests_point_at_the_field(path: str, value: Any, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        Pipeline.from_manifest(_broken(path, value))


def test_bad_json_file_gives_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"version": 1,\n "nodes": [,]}')
    with pytest.raises(ManifestError, match=r"bad.json:2:12: not valid JSON"):
        Pipeline.from_manifest(path)


def test_manifests_never_import_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "rm_evil_module.py").write_text("import builtins\nbuiltins.RM_EVIL_RAN = True\nclass Evil: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for node_type in ("rm_evil_module.Evil", "rm_evil_module:Evil", "rm_evil_module"):
        m = {"version": 1, "nodes": [{"id": "x", "node_type": node_type}]}
        with pytest.raises(ManifestError, match="unknown node_type"):
            Pipeline.from_manifest(m)
    assert "rm_evil_module" not in sys.modules
    import builtins

    assert not hasattr(builtins, "RM_EVIL_RAN")


def test_entry_point_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "rm_plugin_mod.py").write_text(
        "from remotemedia import Node\nclass Echo(Node):\n    def process(self, data):\n        return ('echo', data)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [EntryPoint(name="Echo", value="rm_plugin_mod:Echo", group=registry.ENTRY_POINT_GROUP)]

    def fake_entry_points(group: str, name: str | None = None) -> list[EntryPoint]:
        return [e for e in eps if e.group == group and (name is None or e.name == name)]

    monkeypatch.setattr(registry, "entry_points", fake_entry_points)
    assert "Echo" in registry.available()
    p = Pipeline.from_manifest({"version": 1, "nodes": [{"id": "e", "node_type": "Echo"}]})
    assert p.run_sync(1) == ("echo", 1)
    assert p.to_manifest()["nodes"][0]["node_type"] == "Echo"


def test_unregistered_custom_node_cannot_be_exported() -> None:
    class Loose(Node):
        def process(self, data: Any) -> Any:
            return data

    with pytest.raises(TypeError, match="is not registered, so a manifest of it could not be loaded back"):
        Pipeline().add_node(Loose()).to_manifest()


def test_node_that_does_not_store_a_param_cannot_be_exported() -> None:
    @register_node(name="Forgetful")
    class Forgetful(Node):
        def __init__(self, level: int = 1, name: str | None = None) -> None:
            super().__init__(name=name)

    try:
        with pytest.raises(TypeError, match=r"constructor parameter 'level' is not stored as self\.level"):
            Pipeline().add_node(Forgetful(3)).to_manifest()
    finally:
        registry.unregister("Forgetful")


def test_register_rejects_clashes() -> None:
    with pytest.raises(ValueError, match="'VADNode' is a built-in"):
        register_node(Gain, name="VADNode")

    class Other(Node):
        pass

    with pytest.raises(ValueError, match="'Gain' is already registered"):
        register_node(Other, name="Gain")


def test_shipped_schema_is_valid_and_jsonschema_agrees() -> None:
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(schema())
    validator = jsonschema.Draft202012Validator(schema())
    good = _manifest()
    assert first_error(good, schema()) is None
    assert not list(validator.iter_errors(good))
    schema_level = [
        b for b in BAD if b[2].startswith(("at (root)", r"at \(root\)")) or "must" in b[2] or "unknown field" in b[2]
    ]
    assert len(schema_level) >= 6
    for path, value, _ in schema_level:
        bad = _broken(path, value)
        ours = first_error(bad, schema())
        theirs = list(validator.iter_errors(bad))
        assert ours is not None and theirs, (path, value)


def test_validate_function(tmp_path: Path) -> None:
    assert validate(_manifest())["version"] == 1


def test_cli_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(_manifest()))
    bad.write_text(json.dumps(_broken("nodes/1/runtime_hint", "gpu")))
    assert main(["validate", str(good)]) == 0
    assert "OK (manifest version 1, 4 nodes, 3 connections)" in capsys.readouterr().out
    assert main(["validate", str(bad)]) == 1
    assert "INVALID: invalid manifest at nodes[1].runtime_hint" in capsys.readouterr().err
    assert main(["info"]) == 0


def test_cli_validate_subprocess(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"version": 1, "nodes": [{"id": "a", "node_type": "Nope"}]}))
    r = subprocess.run([sys.executable, "-m", "remotemedia", "validate", str(bad)], capture_output=True, text=True)
    assert r.returncode == 1
    assert "nodes[0].node_type: unknown node_type 'Nope'" in r.stderr


def test_nodes_with_minimal_constructors_load() -> None:
    @register_node(name="Plain")
    class Plain(Node):
        def __init__(self, offset: int = 0) -> None:
            super().__init__()
            self.offset = offset

        def process(self, data: Any) -> Any:
            return data + self.offset

    try:
        m = {
            "version": 1,
            "nodes": [
                {
                    "id": "p",
                    "node_type": "Plain",
                    "params": {"offset": 2},
                    "runtime_hint": "python",
                    "retry": {"max_retries": 1},
                }
            ],
        }
        p = Pipeline.from_manifest(m)
        node = p["p"]
        assert (node.name, node.runtime_hint, node.retry, node.offset) == ("p", "python", RetryPolicy(max_retries=1), 2)
        assert p.run_sync(1) == 3
        assert p.to_manifest()["nodes"][0]["params"] == {"offset": 2}
    finally:
        registry.unregister("Plain")


def test_shipped_example_manifest_validates_and_loads() -> None:
    path = Path(__file__).resolve().parents[1] / "examples" / "speech_pipeline.json"
    assert main(["validate", str(path)]) == 0
    p = Pipeline.from_manifest(path)
    assert [type(n).__name__ for n in p.nodes] == ["FormatConverterNode", "AudioResampleNode", "VADNode"]
    assert p.to_manifest() == json.loads(path.read_text())
