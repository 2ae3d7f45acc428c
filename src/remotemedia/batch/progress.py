"""Progress reporting: a tqdm bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import contextlib
import functools
import sys
import time
from typing import IO, Any

from remotemedia.batch.job import FileResult


@functools.cache
def _bar_class() -> Any:
    """tqdm's bar without the two things it would start beside the run.

    - Its monitor thread (``monitor_interval = 0``): a thread in the run
      makes its worker processes come from a fork server instead of a fork
      of the run (batch/start_method.py): a fresh interpreter that imports
      numpy, soundfile and the pipeline again, ~0.3 s more per run with the
      bar on a terminal, the default at two workers or more.
    - Its multiprocessing lock (tqdm's default write lock makes one, which
      starts multiprocessing's resource-tracker process): only this
      process's main thread draws the bar, so a thread lock is enough.
    """
    import threading

    from tqdm import tqdm

    class _Bar(tqdm):
        monitor_interval = 0

    _Bar.set_lock(threading.RLock())
    return _Bar


class Progress:
    """Counts files and audio seconds; shows a bar, lines, or nothing.

    Parameters
    ----------
    total : int
        Files to process (skipped files count as done).
    mode : {"auto", "bar", "lines", "none"}
        "auto" draws a bar when ``stream`` is a terminal and prints plain
        lines otherwise.
    """

    def __init__(self, total: int, mode: str = "auto", stream: IO[str] | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        if mode == "auto":
            mode = "bar" if self.stream.isatty() else "lines"
        self.mode = mode
        self.total = total
        self.done = 0
        self.audio_s = 0.0
        self.start = time.perf_counter()
        self._bar: Any = None
        if mode == "bar":
            # miniters=1: the display is checked at every file (tqdm still redraws at most every 0.1 s),
            # which is what the monitor thread, left out, would otherwise restore after a slow file
            self._bar = _bar_class()(
                total=total, unit="file", file=self.stream, dynamic_ncols=True, smoothing=0.1, miniters=1
            )

    def update(self, result: FileResult) -> None:
        """Account for one finished file."""
        self.done += 1
        if result.status == "ok":
            self.audio_s += result.duration_s
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        speed = self.audio_s / elapsed
        if self._bar is not None:
            try:
                self._bar.set_postfix_str(f"{speed:.1f} audio s/s", refresh=False)
                self._bar.update(1)
            except (BrokenPipeError, ValueError, OSError):  # the terminal went away: the run goes on
                self._bar.disable = True
        elif self.mode == "lines":
            width = len(str(self.total))
            detail = (
                f"{result.duration_s:.1f} s audio" if result.status == "ok" else (result.error or "").split("\n")[0]
            )
            if result.status == "failed":
                detail = f"[{result.node}] {detail}"
            remaining = self.total - self.done
            eta = f"eta {remaining * elapsed / self.done:.0f}s" if self.done else ""
            self._print(
                f"[{self.done:>{width}}/{self.total}] {result.status:<7} {result.relpath}  {detail}  "
                f"({speed:.1f} audio s/s, {eta})"
            )

    def _print(self, line: str) -> None:
        """Print a progress line; a closed stream (``2>&1 | head``) ends the display, never the run."""
        try:
            print(line, file=self.stream, flush=True)
        except (BrokenPipeError, ValueError, OSError):
            self.mode = "none"

    def close(self) -> None:
        if self._bar is not None:
            with contextlib.suppress(BrokenPipeError, ValueError, OSError):
                self._bar.close()
