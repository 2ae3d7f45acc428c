"""The pipeline graph: nodes by id, directed connections, checks, order."""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from remotemedia.core.errors import CycleError, GraphError
from remotemedia.core.node import Node


@dataclass(frozen=True)
class Topology:
    """A checked graph, ready to execute.

    Attributes
    ----------
    order : tuple of str
        Node ids in a topological order (ties broken by insertion order).
    preds, succs : dict of str to tuple of str
        Upstream and downstream ids of each node, in connection order.
    sources, sinks : tuple of str
        Nodes without upstream (they get the run's input) and without
        downstream (their outputs are the result).
    """

    order: tuple[str, ...]
    preds: dict[str, tuple[str, ...]]
    succs: dict[str, tuple[str, ...]]
    sources: tuple[str, ...]
    sinks: tuple[str, ...]
    chain: bool = False


class Graph:
    """Nodes by id and the connections between them."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self.edges: list[tuple[str, str]] = []
        self.outputs: tuple[str, ...] = ()
        # lookups that keep building linear in nodes + edges
        self._edge_set: set[tuple[str, str]] = set()
        self._ids_of: dict[int, str] = {}  # id(node object) -> its id here
        self._suffix: dict[str, int] = {}  # next suffix to try for an automatic name
        self.version = 0  # bumped on every change; invalidates cached plans

    def add(self, node: Node) -> Node:
        """Add ``node``; an automatic name is made unique, an explicit duplicate is an error.

        Raises
        ------
        TypeError
            ``node`` is not a Node.
        GraphError
            Another node already has this explicit id.
        """
        if not isinstance(node, Node):
            raise TypeError(f"expected a Node instance, got {type(node).__name__}")
        existing = self.nodes.get(node.name)
        if existing is node:
            return node
        if existing is not None:
            if not node.auto_named:
                raise GraphError(
                    f"duplicate node id {node.name!r}: already used by {existing.describe()}; "
                    "give each node a unique name"
                )
            base = node.name
            i = self._suffix.get(base, 1)
            while f"{base}_{i}" in self.nodes:
                i += 1
            self._suffix[base] = i + 1
            node.name = f"{base}_{i}"
        if id(node) in self._ids_of:
            raise GraphError(f"node {node.describe()} is already in this pipeline under another id")
        self.nodes[node.name] = node
        self._ids_of[id(node)] = node.name
        self.version += 1
        return node

    def resolve(self, ref: Node | str, what: str) -> str:
        """The id of ``ref`` (a Node, added if new, or the id of a node already in the graph)."""
        if isinstance(ref, Node):
            if self.nodes.get(ref.name) is not ref:
                self.add(ref)
            return ref.name
        if isinstance(ref, str):
            if ref not in self.nodes:
                known = ", ".join(self.nodes) or "none"
                raise GraphError(f"{what}: unknown node id {ref!r} (known ids: {known})")
            return ref
        raise TypeError(f"{what}: expected a Node or a node id, got {type(ref).__name__}")

    def connect(self, a: Node | str, b: Node | str) -> None:
        """Add the connection ``a -> b`` (a repeated connection is an error)."""
        src = self.resolve(a, "connect() source")
        dst = self.resolve(b, "connect() target")
        if src == dst:
            raise CycleError([src])
        if (src, dst) in self._edge_set:
            raise GraphError(f"connection {src!r} -> {dst!r} already exists")
        self.edges.append((src, dst))
        self._edge_set.add((src, dst))
        self.version += 1

    def set_outputs(self, ids: list[str] | tuple[str, ...]) -> None:
        """Declare which nodes' outputs the run returns (default: every sink)."""
        for i in ids:
            self.resolve(i, "outputs")
        self.outputs = tuple(ids)
        self.version += 1

    def topology(self) -> Topology:
        """Check the graph and return its execution order.

        Raises
        ------
        GraphError
            Empty graph, a connection to an unknown id, or a node with no
            path to a declared output.
        CycleError
            A cycle (its node ids are listed).
        """
        if not self.nodes:
            raise GraphError("the pipeline has no nodes; add_node() at least one")
        preds: dict[str, list[str]] = {n: [] for n in self.nodes}
        succs: dict[str, list[str]] = {n: [] for n in self.nodes}
        for i, (a, b) in enumerate(self.edges):
            for end in (a, b):
                if end not in self.nodes:
                    raise GraphError(f"connection {i} ({a!r} -> {b!r}) is dangling: no node has id {end!r}")
            succs[a].append(b)
            preds[b].append(a)
        cycle = find_cycle(list(self.nodes), succs)
        if cycle:
            raise CycleError(cycle)
        order = _topological_order(list(self.nodes), preds, succs)
        sinks = tuple(n for n in self.nodes if not succs[n])
        outputs = self.outputs or sinks
        reach = set(outputs)
        for n in reversed(order):
            if any(s in reach for s in succs[n]):
                reach.add(n)
        dead = [n for n in order if n not in reach]
        if dead:
            raise GraphError(
                f"node(s) {', '.join(map(repr, dead))} have no path to an output ({', '.join(outputs)}); "
                "connect them or remove them"
            )
        # n nodes, n - 1 links, nobody with two inputs or outputs: one straight line
        chain = (
            len(self.edges) == len(order) - 1
            and all(len(s) <= 1 for s in succs.values())
            and all(len(p) <= 1 for p in preds.values())
            and tuple(outputs) == (order[-1],)
        )
        return Topology(
            order=tuple(order),
            preds={n: tuple(p) for n, p in preds.items()},
            succs={n: tuple(s) for n, s in succs.items()},
            sources=tuple(n for n in self.nodes if not preds[n]),
            sinks=tuple(outputs),
            chain=chain,
        )


def find_cycle(ids: list[str], succs: dict[str, list[str]]) -> list[str]:
    """One cycle as a list of ids (empty if acyclic); iterative DFS, no recursion limit."""
    color = dict.fromkeys(ids, 0)  # 0 new, 1 on the stack, 2 done
    for root in ids:
        if color[root]:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = [root]
        color[root] = 1
        while stack:
            node, i = stack[-1]
            nxt = succs[node]
            if i < len(nxt):
                stack[-1] = (node, i + 1)
                child = nxt[i]
                if color[child] == 1:
                    return path[path.index(child) :]
                if color[child] == 0:
                    color[child] = 1
                    stack.append((child, 0))
                    path.append(child)
            else:
                color[node] = 2
                stack.pop()
                path.pop()
    return []


def _topological_order(ids: list[str], preds: dict[str, list[str]], succs: dict[str, list[str]]) -> list[str]:
    """Kahn's algorithm; among ready nodes the earliest inserted goes first (a heap: O((n + e) log n))."""
    rank = {n: i for i, n in enumerate(ids)}
    missing = {n: len(preds[n]) for n in ids}
    ready = [rank[n] for n in ids if not missing[n]]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        n = ids[heapq.heappop(ready)]
        order.append(n)
        for s in succs[n]:
            missing[s] -= 1
            if not missing[s]:
                heapq.heappush(ready, rank[s])
    return order
