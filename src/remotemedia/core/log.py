"""The pipeline's logger, ``remotemedia.pipeline``, fetched when a message is logged.

The pipeline logs only on rare paths (a native kernel that failed and was
re-run in Python, a transient retry, a node planned in Python, a stream
stage that failed to close). Fetching the logger there, not at import,
keeps :mod:`logging` (and the ``traceback``, ``string`` and ``atexit``
modules it loads, a few milliseconds) out of a run that logs nothing,
such as a plain ``remotemedia run``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import logging

#: The logger's name: configure ``logging.getLogger(NAME)`` to see the pipeline's messages.
NAME = "remotemedia.pipeline"


def logger() -> logging.Logger:
    """The ``remotemedia.pipeline`` logger (``logging`` is imported on the first call)."""
    import logging

    return logging.getLogger(NAME)
