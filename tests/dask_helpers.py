"""A slow node and a Dask worker plugin that registers it on every worker.

Pickled by value (cloudpickle) so that Dask workers need not import the
tests folder.
"""

from __future__ import annotations

import time
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from remotemedia import Node, register_node


class SlowNode(Node):
    """Passes data through after sleeping, so a test can kill a worker mid-task."""

    def __init__(self, seconds: float = 0.5, name: str | None = None, runtime_hint: str = "auto", retry: Any = None):
        super().__init__(name=name, runtime_hint=runtime_hint, retry=retry)
        self.seconds = seconds

    def process(self, data: Any) -> Any:
        time.sleep(self.seconds)
        return data


class RegisterSlowNode(WorkerPlugin):
    """Registers SlowNode in each worker process, restarted ones included."""

    def setup(self, worker: Any) -> None:
        register_node(SlowNode, replace=True)


def slow_manifest(base: dict[str, Any], seconds: float) -> dict[str, Any]:
    """``base`` with a SlowNode appended after its last node."""
    last = base["nodes"][-1]["id"]
    base = {**base, "nodes": [*base["nodes"], {"id": "slow", "node_type": "SlowNode", "params": {"seconds": seconds}}]}
    base["connections"] = [*base["connections"], {"from": last, "to": "slow"}]
    return base
