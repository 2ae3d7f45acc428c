"""``python -m remotemedia``: the command line."""

from remotemedia.cli import entry

entry()
