"""Pipeline: nodes, connections, runs, metrics and manifests."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from remotemedia.core.errors import node_error
from remotemedia.core.executor import NodePlan, Plan, execute
from remotemedia.core.graph import Graph
from remotemedia.core.metrics import MemoryProbe, Metrics, NodeStats
from remotemedia.core.node import Node
from remotemedia.core.retry import CircuitBreaker, CircuitBreakerConfig, RetryPolicy
from remotemedia.core.runtime_select import select_kernels
from remotemedia.core.threads import check_threads, resolve_threads

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from remotemedia.stream.session import StreamSession


class Pipeline:
    """A graph of nodes run as one unit.

    Parameters
    ----------
    name : str, optional
        Shown in errors, logs and metrics (default "pipeline").
    enable_metrics : bool
        Record per-node timings and counters (see :meth:`get_metrics`).
    retry : RetryPolicy, optional
        Default retry policy of every node (default: 3 retries after 100,
        200, 400 ms). A node's own ``retry`` wins.
    circuit_breaker : CircuitBreakerConfig, optional
        Per-node circuit breaker settings (default: open after 5
        consecutive failures, half-open after 30 s).
    track_memory : bool
        With metrics, measure peak memory per node with tracemalloc (slow;
        see :mod:`remotemedia.core.metrics`).
    executor : concurrent.futures.Executor, optional
        Where synchronous nodes of concurrent branches run (default: the
        event loop's thread pool).
    threads : int, optional
        Threads a native chain may use for the channels of a big block
        (32768 frames or more, two or more channels; resampling runs one
        channel per thread, as soxr does). None (the default):
        ``REMOTEMEDIA_THREADS`` if set, else one per channel up to the
        cores this process may run on; 1 starts no thread. Small blocks
        (real-time frames) stay on the calling thread; results are the
        same bits for every setting (:mod:`remotemedia.core.threads`).

    Examples
    --------
    >>> p = Pipeline("speech").add_node(AudioResampleNode(target_rate=16000)).add_node(VADNode())
    >>> out = p.run_sync((audio, 48000))                       # doctest: +SKIP
    """

    def __init__(
        self,
        name: str | None = None,
        enable_metrics: bool = False,
        *,
        retry: RetryPolicy | None = None,
        circuit_breaker: CircuitBreakerConfig | None = None,
        track_memory: bool = False,
        executor: Executor | None = None,
        threads: int | None = None,
    ) -> None:
        self.name = name or "pipeline"
        self.graph = Graph()
        self.retry = retry if retry is not None else RetryPolicy()
        self.circuit_breaker = circuit_breaker if circuit_breaker is not None else CircuitBreakerConfig()
        self.executor = executor
        self.track_memory = track_memory
        self._metrics = Metrics(self.name, track_memory) if enable_metrics or track_memory else None
        self._last: str | None = None
        self._breakers: dict[str, CircuitBreaker] = {}
        self._plans: dict[bool, tuple[int, Plan]] = {}
        self._initialized: set[str] = set()
        self._entered = False
        self._threads = check_threads(threads, f"Pipeline {self.name!r}")

    # building ---------------------------------------------------------------

    def add_node(self, node: Node) -> Pipeline:
        """Append ``node`` and connect it from the previously added node; returns the pipeline."""
        self.graph.add(node)
        if self._last is not None and self._last in self.graph.nodes:
            self.graph.connect(self._last, node.name)
        self._last = node.name
        return self

    def connect(self, a: Node | str, b: Node | str) -> Pipeline:
        """Connect ``a -> b`` (Nodes not yet in the pipeline are added); returns the pipeline."""
        self.graph.connect(a, b)
        return self

    def set_outputs(self, *ids: str) -> Pipeline:
        """Return only these nodes' outputs from :meth:`run` (default: every sink)."""
        self.graph.set_outputs(ids)
        return self

    @property
    def threads(self) -> int | None:
        """Threads per native chain call for a big block's channels (None: ``REMOTEMEDIA_THREADS`` or auto).

        See :mod:`remotemedia.core.threads`. Setting it re-plans on the next run.
        """
        return self._threads

    @threads.setter
    def threads(self, value: int | None) -> None:
        self._threads = check_threads(value, f"Pipeline {self.name!r}")
        self._plans.clear()

    @property
    def enable_metrics(self) -> bool:
        """Whether metrics are recorded."""
        return self._metrics is not None

    @property
    def metrics(self) -> Metrics | None:
        """The live metrics recorder (None without metrics); runners record into it."""
        return self._metrics

    @property
    def initialized(self) -> bool:
        """True when every node has been initialized (see :meth:`initialize`)."""
        return len(self._initialized) == len(self.graph.nodes)

    @property
    def nodes(self) -> list[Node]:
        """The nodes, in insertion order."""
        return list(self.graph.nodes.values())

    def __getitem__(self, node_id: str) -> Node:
        return self.graph.nodes[self.graph.resolve(node_id, "pipeline[...]")]

    def __len__(self) -> int:
        return len(self.graph.nodes)

    # planning ---------------------------------------------------------------

    def plan(self, use_rust: bool = True) -> Plan:
        """Check the graph and choose every node's kernel set (cached until the graph changes).

        Raises
        ------
        GraphError, CycleError
            The graph is invalid.
        RuntimeContradictionError, RuntimeUnavailableError
            A node's runtime hint cannot be honoured; nothing has run.
        """
        cached = self._plans.get(use_rust)
        if cached is not None and cached[0] == self.graph.version:
            return cached[1]
        topo = self.graph.topology()
        nodes: dict[str, NodePlan] = {}
        for name in topo.order:
            node = self.graph.nodes[name]
            ks = (
                select_kernels(node.runtime_hint, use_rust, f"{node.describe()} in pipeline {self.name!r}")
                if node.uses_kernels
                else None
            )
            stats = self._metrics.node(name, node.type_name()) if self._metrics is not None else None
            breaker = self._breakers.get(name)
            if breaker is None or breaker.config != self.circuit_breaker:
                breaker = self._breakers[name] = CircuitBreaker(self.circuit_breaker)
            nodes[name] = NodePlan(
                node=node,
                name=name,
                node_type=node.type_name(),
                kernels=ks,
                python=None,  # the Python set of a native re-run: loaded on first failure
                is_async=inspect.iscoroutinefunction(node.process) and not node.uses_kernels,
                retry=node.retry if node.retry is not None else self.retry,
                breaker=breaker,
                stats=stats,
            )
        from remotemedia.core.chains import plan_chains

        plan = Plan(topo, nodes, plan_chains(topo, nodes, resolve_threads(self._threads)))
        self._plans[use_rust] = (self.graph.version, plan)
        return plan

    def runtime_plan(self, use_rust: bool = True) -> dict[str, dict[str, str | None]]:
        """Which runtime and binding each node would run with: ``{id: {"runtime", "binding"}}``."""
        out: dict[str, dict[str, str | None]] = {}
        for name, p in self.plan(use_rust).nodes.items():
            ks = p.kernels
            out[name] = {"runtime": ks.name if ks else "python", "binding": ks.binding if ks else None}
        return out

    # running ----------------------------------------------------------------

    async def initialize(self) -> None:
        """Initialize every node not yet initialized (run() does this on demand)."""
        for name, node in self.graph.nodes.items():
            if name in self._initialized:
                continue
            try:
                await node.initialize()
            except Exception as exc:
                raise node_error(self.name, name, node.type_name(), "initialize", 1, exc) from exc
            self._initialized.add(name)

    async def cleanup(self) -> None:
        """Clean up every initialized node (all are attempted; the first failure is raised)."""
        first: BaseException | None = None
        for name, node in self.graph.nodes.items():
            if name not in self._initialized:
                continue
            self._initialized.discard(name)
            try:
                await node.cleanup()
            except Exception as exc:
                if first is None:
                    first = node_error(self.name, name, node.type_name(), "cleanup", 1, exc)
                    first.__cause__ = exc
        if first is not None:
            raise first

    async def __aenter__(self) -> Pipeline:
        await self.initialize()
        self._entered = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._entered = False
        await self.cleanup()

    async def run(self, data: Any = None, use_rust: bool = True) -> Any:
        """Run the pipeline once on ``data``.

        A pipeline that starts with a source node (``AudioFileSource``)
        and gets no ``data`` streams from it to the end instead (memory
        bounded by the block size): each sink's output chunks are joined
        (:func:`remotemedia.stream.collect`; a file sink returns its
        summary), so end such pipelines with a sink for big inputs.

        Parameters
        ----------
        data : Any
            Given to every source node (``AudioBuffer`` or ``(ndarray,
            sample_rate)`` for the audio nodes).
        use_rust : bool
            False runs every ``auto`` node in Python.

        Returns
        -------
        Any
            The output of the single sink, or ``{node id: output}`` when there
            are several.

        Raises
        ------
        NodeError
            A node failed (subclasses NodeValueError / NodeTypeError are also
            ValueError / TypeError). Names pipeline, node, operation,
            attempts; the cause is chained.
        GraphError, RuntimeContradictionError, RuntimeUnavailableError
            Raised before any node runs.
        """
        plan = self.plan(use_rust)
        if data is None and any(plan.nodes[n].node.is_source for n in plan.topology.sources):
            from remotemedia.stream.runner import run_to_end

            return await run_to_end(self, use_rust)
        if not self.initialized:
            await self.initialize()
        probe = None
        if self._metrics is not None and self._metrics.track_memory:
            probe = MemoryProbe()
            probe.start()
        try:
            outs = await execute(plan, data, self.name, self._metrics, self.executor)
        finally:
            if probe is not None:
                probe.stop()
        if len(outs) == 1:
            return next(iter(outs.values()))
        return outs

    def run_sync(self, data: Any = None, use_rust: bool = True) -> Any:
        """:meth:`run` for scripts without an event loop (cleans up afterwards).

        Raises
        ------
        RuntimeError
            Called from inside a running event loop (use ``await run()``).
        """
        import asyncio

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError("Pipeline.run_sync() called inside a running event loop; use `await pipeline.run()`")

        async def once() -> Any:
            try:
                return await self.run(data, use_rust)
            finally:
                if not self._entered:
                    await self.cleanup()

        return asyncio.run(once())

    # streaming --------------------------------------------------------------

    def stream(
        self, chunks: Any = None, use_rust: bool = True, *, queue_size: int = 8, overflow: str = "block"
    ) -> AsyncIterator[Any]:
        """Stream chunks through the pipeline: ``async for out in pipeline.stream(chunks)``.

        Every node keeps its streaming state (resampler history, VAD
        frames and segments); the concatenated outputs equal ``run()`` on
        the concatenated input, whatever the chunking. At the end every node
        flushes in order, its flush output going through the nodes
        downstream first. See docs/streaming.md.

        Parameters
        ----------
        chunks : iterable or async iterable, optional
            ``AudioBuffer`` or ``(ndarray, sample_rate)`` chunks. Omit it
            when the pipeline starts with a source node (AudioFileSource).
        use_rust : bool
            As in :meth:`run`.
        queue_size : int
            Capacity (chunks) of each queue between nodes.
        overflow : {"block", "drop_oldest"}
            Full-queue policy: wait (default, nothing lost) or drop the
            oldest chunk (real time; counted in the metrics under each
            node's ``stream``, with queue depth and lag).

        Yields
        ------
        AudioBuffer or (str, Any)
            Output chunks with ``start_sample`` and ``start_s`` (their start
            in the output's own timeline) in the metadata; with several
            sinks, ``(sink id, chunk)`` pairs.

        Raises
        ------
        NodeError
            A node failed: names the node, the operation and the stream
            position (chunk index, input sample and seconds). The stream
            stops; the pipeline can stream or run again.
        TypeError
            ``chunks`` is a single buffer, not an iterable, or missing
            without a source node.
        """
        from remotemedia.stream.runner import run_stream

        return run_stream(self, chunks, use_rust, queue_size, overflow)

    def open_stream(self, use_rust: bool = True) -> StreamSession:
        """A synchronous per-frame stream: ``with pipeline.open_stream() as s: out = s.push(frame)``.

        No event loop, task or thread: for audio callbacks. Planning, kernel
        selection and node states happen once here; ``push`` calls each
        node's bound ``process_chunk``; ``flush()`` ends the stream. See
        :class:`~remotemedia.stream.session.StreamSession`.

        Raises
        ------
        TypeError
            The pipeline starts with a source node, or has an async node.
        GraphError, RuntimeContradictionError, RuntimeUnavailableError
            As for :meth:`run`.
        """
        from remotemedia.stream.session import StreamSession

        return StreamSession(self, use_rust)

    # metrics ----------------------------------------------------------------

    def get_metrics(self) -> dict[str, Any]:
        """JSON-serialisable metrics (fields: docs/pipelines.md, section "Metrics").

        Raises
        ------
        RuntimeError
            The pipeline was created without ``enable_metrics=True``.
        """
        if self._metrics is None:
            raise RuntimeError(f"pipeline {self.name!r} was created without enable_metrics=True; no metrics to report")
        return self._metrics.as_dict()

    def export_metrics(self, path: str | Path | None = None) -> str:
        """The metrics as JSON text, also written to ``path`` if given."""
        self.get_metrics()
        assert self._metrics is not None
        return self._metrics.to_json(path)

    def reset_metrics(self) -> None:
        """Forget recorded metrics (keeps them enabled).

        Counters are zeroed in place, so the plan stays valid and nothing
        is re-planned (a batch worker resets per file).
        """
        if self._metrics is not None:
            self._metrics.reset()

    def node_stats(self, node_id: str) -> NodeStats | None:
        """Raw counters of one node (None without metrics)."""
        return None if self._metrics is None else self._metrics.nodes.get(node_id)

    # manifests --------------------------------------------------------------

    def to_manifest(self) -> dict[str, Any]:
        """The pipeline as a manifest dict (see :mod:`remotemedia.core.manifest`)."""
        from remotemedia.core.manifest import to_manifest

        return to_manifest(self)

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any] | str | Path, *, root: str | Path | None = None) -> Pipeline:
        """Build a pipeline from a manifest: a dict, JSON text or a JSON file path.

        Parameters
        ----------
        manifest : dict, str or Path
            See :func:`remotemedia.core.manifest.load`.
        root : str or Path, optional
            Confine the manifest's file paths (``AudioFileSource.path``,
            ``AudioFileSink.path``) to this folder: they must be relative,
            resolve inside it and are read or written there; absolute paths
            and ``..`` or symbolic-link escapes are refused. Use it for
            manifests you did not write (``remotemedia run`` confines to the
            output folder). Without it paths are taken as written.

        Raises
        ------
        ManifestError
            The manifest is invalid; the message points at the bad field
            (e.g. ``nodes[2].params.path``).
        """
        from remotemedia.core.build import populate
        from remotemedia.core.manifest import parse

        spec = parse(manifest)
        pipeline = cls(
            spec.name,
            enable_metrics=spec.enable_metrics,
            retry=spec.retry,
            circuit_breaker=spec.circuit_breaker,
            track_memory=spec.track_memory,
        )
        pipeline._last = populate(pipeline.graph, spec, root)
        return pipeline

    def __repr__(self) -> str:
        return f"Pipeline(name={self.name!r}, nodes={list(self.graph.nodes)}, connections={self.graph.edges})"
