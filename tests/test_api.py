"""The public names of the pipeline layer, pinned."""

from __future__ import annotations

from typing import Any

import numpy as np

import remotemedia
import remotemedia.nodes
from remotemedia import AudioBuffer, Node, Pipeline, TransientError
from remotemedia.core import errors
from remotemedia.nodes import AudioResampleNode, FormatConverterNode, VADNode
from remotemedia.testing import run_node


def test_top_level_names() -> None:
    for name in (
        "Pipeline",
        "Node",
        "AudioBuffer",
        "TransientError",
        "RetryPolicy",
        "CircuitBreakerConfig",
        "NodeError",
        "register_node",
    ):
        assert name in remotemedia.__all__ and hasattr(remotemedia, name)
    assert remotemedia.Pipeline is remotemedia.core.pipeline.Pipeline


def test_nodes_names() -> None:
    assert sorted(remotemedia.nodes.__all__) == [
        "AudioFileSink",
        "AudioFileSource",
        "AudioResampleNode",
        "DownmixNode",
        "FormatConverterNode",
        "VADNode",
    ]
    for cls in (AudioResampleNode, FormatConverterNode, VADNode):
        assert issubclass(cls, Node) and cls.uses_kernels


def test_every_node_has_the_common_interface() -> None:
    for node in (AudioResampleNode(), VADNode(), FormatConverterNode()):
        assert node.runtime_hint == "auto"
        assert isinstance(node.name, str)
        for method in ("initialize", "cleanup", "process", "process_with", "open_state", "process_chunk", "flush"):
            assert callable(getattr(node, method))


def test_error_hierarchy() -> None:
    assert issubclass(TransientError, remotemedia.RemoteMediaError)
    assert issubclass(errors.NodeValueError, ValueError) and issubclass(errors.NodeValueError, errors.NodeError)
    assert issubclass(errors.GraphError, ValueError) and issubclass(errors.CycleError, errors.GraphError)
    assert issubclass(errors.ManifestError, ValueError)


def test_harness_makes_a_node_test_short() -> None:
    class Invert(Node):
        def process(self, data: Any) -> AudioBuffer:
            buf = AudioBuffer.from_any(data)
            return buf.replace(data=-buf.data)

    out = run_node(Invert(), np.array([1.0, -2.0], np.float32), sample_rate=8000)
    np.testing.assert_array_equal(out.data, [-1.0, 2.0])
    assert out.sample_rate == 8000


def test_importing_does_not_load_native_code_or_warn() -> None:
    import subprocess
    import sys

    code = "import sys, remotemedia, remotemedia.nodes; print('remotemedia._bindings.cython_binding' in sys.modules)"
    r = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


def test_pipeline_repr() -> None:
    p = Pipeline("r").add_node(FormatConverterNode("i16", name="c"))
    assert repr(p) == "Pipeline(name='r', nodes=['c'], connections=[])"
    assert repr(p["c"]) == "FormatConverterNode(name='c', runtime_hint='auto', target_format='i16')"
