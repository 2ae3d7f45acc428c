"""``python -m remotemedia``: the command line."""

from remotemedia.cli import main

raise SystemExit(main())
