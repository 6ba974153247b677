"""The FPS test's progress display: a counted loop's progress on the console."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


class LoopProgress:
    """Progress of a counted loop, on a tty as a bar redrawn in place, elsewhere as a line about
    every `interval_s` seconds (so logs and CI output stay readable)."""

    def __init__(
        self,
        label: str,
        total: int,
        stream: TextIO | None = None,
        interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval_s = 0.1 if self.tty else interval_s
        self.clock = clock
        self.started = clock()
        self.last_shown: float | None = None
        self.done = 0

    def _text(self, done: int, note: str) -> str:
        elapsed = max(self.clock() - self.started, 1e-9)
        rate = done / elapsed
        pct = 100.0 * done / self.total if self.total else 100.0
        if self.tty:
            width = 30
            filled = int(width * done / self.total) if self.total else width
            bar = "#" * filled + "." * (width - filled)
            head = f"{self.label} [{bar}] {done}/{self.total}"
        else:
            head = f"{self.label}: {done}/{self.total} ({pct:.0f}%)"
        tail = f" {rate:.1f}/s {elapsed:.1f}s"
        return head + tail + (f" {note}" if note else "")

    def update(self, done: int, note: str = "") -> None:
        self.done = done
        now = self.clock()
        if self.last_shown is not None and now - self.last_shown < self.interval_s:
            return
        self.last_shown = now
        self._show(done, note)

    def _show(self, done: int, note: str) -> None:
        text = self._text(done, note)
        if self.tty:
            self.stream.write("\r" + text + "\x1b[K")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self, note: str = "") -> None:
        """Show the final count (always), ending the tty line."""
        self._show(self.done, note)
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
