"""The one place that turns a node's runtime hint into a kernel set.

Implements the hint table of the design (section 3):

======  =================  ===================================
hint    native core loads  native core missing
======  =================  ===================================
auto    Rust               Python (INFO log: planned fallback)
rust    Rust               RuntimeUnavailableError naming the node
python  Python             Python
======  =================  ===================================

``use_rust=False`` runs every ``auto`` node in Python; a node hinted
``rust`` in such a run is a contradiction (:class:`RuntimeContradictionError`).
REMOTEMEDIA_RUNTIME is honoured through :func:`remotemedia.kernels.get`.
Nodes never call this per chunk: pipelines resolve every node once when
they plan a run, and a standalone node resolves once and keeps the set.
"""

from __future__ import annotations

from remotemedia import kernels
from remotemedia.core import log
from remotemedia.core.errors import RuntimeContradictionError
from remotemedia.errors import RuntimeUnavailableError

HINTS = ("auto", "rust", "python")


def check_hint(hint: object) -> str:
    """Return ``hint`` if it is "auto", "rust" or "python".

    Raises
    ------
    ValueError
        Any other value.
    """
    if not isinstance(hint, str) or hint not in HINTS:
        raise ValueError(f"runtime_hint must be one of 'auto', 'rust', 'python', got {hint!r}")
    return hint


def select_kernels(hint: str, use_rust: bool = True, node: str = "<node>") -> kernels.KernelSet:
    """The kernel set a node with ``hint`` uses in a run with ``use_rust``.

    Parameters
    ----------
    hint : {"auto", "rust", "python"}
        The node's runtime hint.
    use_rust : bool
        False runs ``auto`` nodes in Python.
    node : str
        Node description for messages and logs (e.g. ``"'resample' (AudioResampleNode)"``).

    Raises
    ------
    RuntimeContradictionError
        ``hint == "rust"`` and ``use_rust`` is False.
    RuntimeUnavailableError
        ``hint == "rust"`` and the native core does not load (or
        REMOTEMEDIA_RUNTIME forbids it).
    """
    if hint == "python":
        return kernels.get("python")
    if hint == "rust":
        if not use_rust:
            raise RuntimeContradictionError(
                f"node {node} has runtime_hint='rust' but the pipeline runs with use_rust=False; "
                "change the hint to 'auto' or run with use_rust=True"
            )
        try:
            return kernels.get("rust")
        except RuntimeUnavailableError as exc:
            raise RuntimeUnavailableError(
                f"node {node} requires the native core (runtime_hint='rust') but it is unavailable: {exc}. "
                "Install a wheel with the native core (see `remotemedia info`) or use runtime_hint='auto'"
            ) from exc
    check_hint(hint)
    if not use_rust:
        log.logger().debug("node %s runs in Python: use_rust=False", node)
        return kernels.get("python")
    ks = kernels.get()
    if ks.name == "python":
        from remotemedia import runtime

        _, _, reason = runtime.try_load_rust_runtime()
        log.logger().info("node %s falls back to Python (planned): native core unavailable: %s", node, reason)
    return ks
