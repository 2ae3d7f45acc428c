"""Node: the unit of work in a pipeline."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from remotemedia.core.runtime_select import check_hint, select_kernels

if TYPE_CHECKING:
    from remotemedia.core.retry import RetryPolicy
    from remotemedia.kernels import KernelSet

# Constructor arguments every node has; params() leaves them out because the
# manifest stores them in their own fields.
_COMMON = ("self", "name", "runtime_hint", "retry")


class Node:
    """Base class of every node.

    Subclass and override :meth:`process` (sync or ``async def``) for a
    plain Python node. Nodes that compute with kernels set
    ``uses_kernels = True`` and override :meth:`process_with` instead: the
    pipeline hands them the kernel set chosen for their runtime hint, and
    re-runs the step with the Python set if the native kernel fails
    internally (:class:`~remotemedia.errors.NativeKernelError`).

    Nodes must not modify their input: with fan-out several nodes share it.

    Streaming protocol (used by ``Pipeline.stream()``): per-stream state
    lives outside the node so one node can serve several streams.
    :meth:`open_state` creates it, :meth:`process_chunk` processes one chunk
    with it and :meth:`flush` releases what it still holds at end of stream.
    Stateless nodes need none of them: the defaults call :meth:`process`.
    :meth:`close_state` runs when a stream ends, normally or not (release
    files and the like there). Source nodes (``is_source = True``) produce
    the stream themselves through :meth:`blocks`.

    Parameters
    ----------
    name : str, optional
        Node id in the pipeline (default: the class name, made unique by the
        pipeline).
    runtime_hint : {"auto", "rust", "python"}
        Which kernel set to use (see :mod:`remotemedia.core.runtime_select`).
    retry : RetryPolicy, optional
        Retry policy for this node (default: the pipeline's).

    Raises
    ------
    ValueError
        Unknown ``runtime_hint``.
    """

    #: Name in the node registry and in manifests (default: the class name).
    node_type: ClassVar[str | None] = None
    #: True for nodes that compute through a kernel set (see process_with).
    uses_kernels: ClassVar[bool] = False
    #: True for nodes that produce a stream themselves (see blocks()).
    is_source: ClassVar[bool] = False
    #: Constructor parameters that name files: confined to the root a manifest
    #: is loaded with (``Pipeline.from_manifest(spec, root=...)``).
    path_params: ClassVar[tuple[str, ...]] = ()

    def __init__(self, name: str | None = None, runtime_hint: str = "auto", retry: RetryPolicy | None = None) -> None:
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"node name must be a non-empty string, got {name!r}")
        self.name: str = name or type(self).type_name()
        self._auto_named = name is None
        self.runtime_hint = check_hint(runtime_hint)
        self.retry = retry
        self._kernels: KernelSet | None = None

    @property
    def auto_named(self) -> bool:
        """True while the id is the automatic one (the type name): a graph may then suffix it to keep ids unique."""
        return self._auto_named

    def configure(self, name: str, runtime_hint: str = "auto", retry: RetryPolicy | None = None) -> Node:
        """Set the id, runtime hint and retry policy as if given to the constructor; returns the node.

        For builders (manifests) whose node classes may not take these in
        their constructor. The id is explicit afterwards (never renamed to
        make it unique); a changed hint drops the cached kernel set.

        Raises
        ------
        ValueError
            An empty name or an unknown hint.
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"node name must be a non-empty string, got {name!r}")
        self.name = name
        self._auto_named = False
        self.runtime_hint = check_hint(runtime_hint)
        self.retry = retry
        self._kernels = None
        return self

    @classmethod
    def type_name(cls) -> str:
        """The registry name of this node class."""
        return cls.__dict__.get("node_type") or cls.__name__

    @property
    def kernels(self) -> KernelSet:
        """The kernel set for this node's hint (resolved once, automatic choice)."""
        if self._kernels is None:
            self._kernels = select_kernels(self.runtime_hint, True, self.describe())
        return self._kernels

    def describe(self) -> str:
        """``'id' (Type)`` for messages."""
        return f"{self.name!r} ({self.type_name()})"

    async def initialize(self) -> None:
        """Acquire resources before the first run (default: nothing)."""

    async def cleanup(self) -> None:
        """Release resources after the last run (default: nothing)."""

    def process(self, data: Any) -> Any:
        """Process one input and return the output (may be ``async def``).

        Kernel nodes need not override this: it calls :meth:`process_with`
        with :attr:`kernels`.
        """
        if self.uses_kernels:
            return self.process_with(data, self.kernels)
        raise NotImplementedError(f"{type(self).__name__} must override process(data)")

    def process_with(self, data: Any, kernels: KernelSet) -> Any:
        """Process one input with the given kernel set (kernel nodes override this)."""
        raise NotImplementedError(f"{type(self).__name__} sets uses_kernels but does not override process_with")

    def open_state(self, kernels: KernelSet | None) -> Any:
        """Create the per-stream state (default: None, a stateless node)."""
        return None

    def process_chunk(self, data: Any, state: Any, kernels: KernelSet | None) -> Any:
        """Process one chunk of a stream with its state (default: one-shot processing)."""
        if self.uses_kernels and kernels is not None:
            return self.process_with(data, kernels)
        return self.process(data)

    def flush(self, state: Any, kernels: KernelSet | None) -> Any:
        """Return what the state still holds at end of stream, or None (default)."""
        return None

    def close_state(self, state: Any, kernels: KernelSet | None) -> None:
        """Release the stream's resources; called once per stream, after flush or on failure (default: nothing)."""

    def native_stage(self) -> Any:
        """The chain stage this node runs as, or None (the default: no native body).

        Built-in nodes with a native body return a stage record of
        :mod:`remotemedia.kernels.chain` describing their parameters; the
        planner joins consecutive such nodes into one chain (see
        docs/pipelines.md). A subclass that overrides how the node
        computes gets None, so its own code runs.
        """
        return None

    def blocks(self) -> Iterator[Any]:
        """A source node's chunks, in order (source nodes override this)."""
        raise NotImplementedError(f"{type(self).__name__} is not a source node (is_source is False)")

    def params(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this node (for manifests).

        The default reads each ``__init__`` parameter (besides name,
        runtime_hint and retry) from the attribute of the same name.

        Raises
        ------
        TypeError
            A parameter is not stored as an attribute of the same name
            (store it, or override ``params()``).
        """
        out: dict[str, Any] = {}
        for p in inspect.signature(type(self).__init__).parameters.values():
            if p.name in _COMMON or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            if not hasattr(self, p.name):
                raise TypeError(
                    f"{type(self).__name__}.params(): constructor parameter {p.name!r} is not stored as "
                    f"self.{p.name}; store it or override params() so the manifest keeps it"
                )
            out[p.name] = getattr(self, p.name)
        return out

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return (
            f"{type(self).__name__}(name={self.name!r}, runtime_hint={self.runtime_hint!r}{', ' if args else ''}{args})"
        )


_COMPUTE = ("process", "process_with", "process_chunk", "open_state", "flush")


def computes_as(node: Node, cls: type) -> bool:
    """True when ``node`` computes with ``cls``'s own methods (no subclass overrides them)."""
    t = type(node)
    return t is cls or all(getattr(t, m) is getattr(cls, m) for m in _COMPUTE)
