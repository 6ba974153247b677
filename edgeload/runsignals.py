"""SIGINT and SIGTERM around a scenario run that measures in the main thread (fps,
edge-vs-cloud, ...): the first signal stops the measuring as Ctrl-C does; once the run is
over, a signal is only remembered, so the report of what was measured is written in full.
The signal's name sets the exit code (130 for SIGINT, 143 for SIGTERM; edgeload.verdict)."""

from __future__ import annotations

import signal
from typing import Any


class RunSignals:
    """Which signal came (`name`), and KeyboardInterrupt on the first one while measuring."""

    def __init__(self) -> None:
        self.name: str | None = None
        self.stopping = False  # set once measuring is over: signals are then only remembered
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._handler)

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handler(self, signum: int, _frame: Any) -> None:
        first = self.name is None
        self.name = self.name or signal.Signals(signum).name
        if first and not self.stopping:
            raise KeyboardInterrupt


class GeventRunSignals(RunSignals):
    """The same for a run whose measuring is gevent's (Locust in this process: lenses):
    gevent's signal watchers, and the KeyboardInterrupt thrown into the main greenlet."""

    def __init__(self) -> None:
        super().__init__()
        self._watchers: list = []

    def install(self) -> None:
        import gevent

        self._watchers = [
            gevent.signal_handler(signum, self._on_signal, signal.Signals(signum).name)
            for signum in (signal.SIGINT, signal.SIGTERM)
        ]

    def restore(self) -> None:
        for watcher in self._watchers:
            watcher.cancel()
        self._watchers = []

    def _on_signal(self, name: str) -> None:
        first = self.name is None
        self.name = self.name or name
        if first and not self.stopping:
            import gevent

            # as gevent does with an exception a handler raises, but without printing it
            hub = gevent.get_hub()
            hub.loop.run_callback(hub.parent.throw, KeyboardInterrupt)
