"""`load_test.log` for the pod scenarios, in the format of `edgeload.runlog`.

Streamed while the run goes (header first, then request batches, resource samples, events,
and an `end` record), flushed every batch, so an interrupted or killed run still leaves what it
measured. Cloud answers are recorded as `ok: 0` with error `not_from_edge` (the log's meaning:
an answer the edge did not give); the scenario's own result file tells the phases apart.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from edgeload import runlog
from edgeload.scenarios.pods.clock import EndpointClock
from edgeload.scenarios.pods.detector_loop import CLOUD, EDGE, Answer
from edgeload.scenarios.pods.results import created_at


class RunLog:
    def __init__(self, run_dir: Path, clock: EndpointClock) -> None:
        self.path = run_dir / runlog.LOG_FILENAME
        self._clock = clock
        self._f: IO[str] | None = self.path.open("w", encoding="utf-8")

    def _write(self, record: dict[str, Any]) -> None:
        if self._f is None:
            return
        self._f.write(json.dumps(record, separators=(",", ":"), default=str) + "\n")

    def header(self, scenario: str, target: dict, inputs: dict, metadata: dict) -> None:
        try:
            from importlib.metadata import version

            tool_version = version("edgeload")
        except Exception:  # noqa: BLE001 - not installed as a package
            tool_version = None
        self._write(
            {
                "type": runlog.HEADER,
                "schema_version": runlog.SCHEMA_VERSION,
                "tool": "edgeload",
                "tool_version": tool_version,
                "scenario": scenario,
                "created_at": created_at(),
                "target": target,
                "inputs": inputs,
                "metadata": metadata,
            }
        )
        self.flush()

    def requests(self, answers: Sequence[Answer]) -> None:
        if not answers:
            return
        wall = self._clock.wall_time
        self._write(
            {
                "type": runlog.REQUESTS,
                "worker": "local",
                "n": len(answers),
                "t": [round(wall(a.t), 6) for a in answers],
                "intended": [None] * len(answers),
                "latency_ms": [a.latency_ms for a in answers],
                "ok": [1 if a.kind == EDGE else 0 for a in answers],
                "status": [a.status for a in answers],
                "error": [
                    None if a.kind == EDGE else ("not_from_edge" if a.kind == CLOUD else a.category)
                    for a in answers
                ],
                "detector": [a.detector_id for a in answers],
                "clients": [1] * len(answers),
                "step": [0] * len(answers),
            }
        )
        self.flush()

    def utilization(self, record: dict) -> None:
        self._write({**record, "t": self._clock.wall_time(record["t"])})

    def event(self, t: float, name: str, detail: str = "") -> None:
        self._write(
            {"type": runlog.EVENT, "t": self._clock.wall_time(t), "name": name, "detail": detail}
        )
        self.flush()

    def end(self, t: float, status: str, reason: str) -> None:
        self._write(
            {
                "type": runlog.END,
                "t": self._clock.wall_time(t),
                "status": status,
                "reason": reason,
                "locust_request_count": None,
            }
        )
        self.close()

    def flush(self) -> None:
        if self._f is not None:
            self._f.flush()

    def close(self) -> None:
        f, self._f = self._f, None
        if f is not None:
            f.close()
