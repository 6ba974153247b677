"""Ctrl-C and SIGTERM during a pod scenario run: both end the run at once, and neither cuts
the report of what was measured short."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any


class Interrupts:
    """Which signal ended the run ("SIGINT" or "SIGTERM"), once one did."""

    def __init__(self) -> None:
        self.signal_name: str | None = None

    @contextlib.contextmanager
    def as_keyboard_interrupt(self) -> Iterator[None]:
        """SIGTERM raises KeyboardInterrupt in the main thread, like Ctrl-C; either is
        remembered (exit 130 for SIGINT, 143 for SIGTERM)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, frame: Any) -> None:
            self.signal_name = self.signal_name or signal.Signals(signum).name
            raise KeyboardInterrupt

        with _handling(handler):
            yield

    def interrupted(self) -> str:
        """The signal that ended the run (Ctrl-C when none was caught: a KeyboardInterrupt)."""
        self.signal_name = self.signal_name or "SIGINT"
        return self.signal_name


@contextlib.contextmanager
def deferred(say: Callable[[str], None]) -> Iterator[None]:
    """While the report is written, Ctrl-C/SIGTERM only print a line (the report finishes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        say("  writing the report of what was measured; it takes a moment")

    with _handling(handler):
        yield


@contextlib.contextmanager
def _handling(handler: Callable[[int, Any], None]) -> Iterator[None]:
    """`handler` for SIGINT and SIGTERM inside the block; the previous handlers after it."""
    old_int = signal.signal(signal.SIGINT, handler)
    old_term = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
