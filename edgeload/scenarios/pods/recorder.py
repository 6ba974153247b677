"""What a pod scenario run observes, streamed into `load_test.log` through `edgeload.runlog`.

Several threads observe at once (the detector loop, the pod watcher, the resource and status
samplers), so records go through one lock to the one `runlog.LogWriter`. Observations are timed
on the run's `EndpointClock`; the log holds wall-clock UNIX seconds, so they are converted here,
and the endpoint clock's time scale is in the header (`metadata.endpoint_clock`) for the
analysis to convert back.

The header waits until the endpoint first answered (its metadata, e.g. the endpoint's images,
is known only then); what is observed before it is held and written right after it. A run that
ends before that still gets its header, then its end record. Sample kinds (see
`edgeload.scenarios.pods.analysis`, which reads them):

    timing       {"name": connect_start | endpoint_up | first_query | goal, ...}
    detectors    {"detectors": [{"id", "name", "mode", ...}]}
    pod_source   {"source", "available", "skipped_reason"}
    pod          {"event": ADDED | MODIFIED | DELETED, "pod": PodSnapshot fields}
    memory       {ram/VRAM per GPU, "detector_vram", "eviction_threshold_pct"}
    model_versions {"detectors": {id: {"status", "deployed"}}}
    edge_config  {"note", "endpoint_refresh_rate_s", "duration_s"}
    labels       {"sent", "failed", "skipped"}
    note         {"message"}

Request batches use the log's columns: `step` is the iteration, a cloud answer is `ok: 0` with
error `not_from_edge` (an answer the edge did not give).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from edgeload import runlog
from edgeload.errors import OutputError
from edgeload.runlog import LogWriter
from edgeload.scenarios.pods.clock import EndpointClock
from edgeload.scenarios.pods.detector_loop import CLOUD, EDGE, Answer


class RunRecorder:
    """The run's log: thread-safe, endpoint times converted to wall-clock times."""

    def __init__(self, run_dir: Path, clock: EndpointClock) -> None:
        self.path = run_dir / runlog.LOG_FILENAME
        self.clock = clock
        self._writer = LogWriter(self.path)
        self._lock = threading.Lock()
        self._held: list[dict] | None = []  # records observed before the header
        # the first write error, kept: it may happen on a sampler thread, which only skips
        # its sample, so the run's own thread meets it again at its next write (and at the end)
        self._failure: OutputError | None = None

    def write_header(self, header: dict) -> None:
        with self._lock:
            if self._held is None:
                return
            self._check_failure()
            with self._noting_failure():
                self._writer.write(header)
                for record in self._held:
                    self._writer.write(record)
                self._held = None
                self._writer.flush()

    @property
    def header_written(self) -> bool:
        return self._held is None

    def write(self, record: dict, *, flush: bool = False) -> None:
        with self._lock:
            self._check_failure()
            if self._writer.closed:
                return  # after the end record: a late sample of a stopping thread
            if self._held is not None:
                self._held.append(record)
                return
            with self._noting_failure():
                self._writer.write(record)
                if flush:
                    self._writer.flush()

    def _check_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    @contextlib.contextmanager
    def _noting_failure(self) -> Iterator[None]:
        try:
            yield
        except OutputError as exc:
            self._failure = exc
            raise

    def wall(self, t: float | None) -> float:
        return self.clock.wall_time(self.clock.now() if t is None else t)

    def sample(self, kind: str, t: float | None = None, **fields: Any) -> None:
        """A `sample` record at endpoint time t (now when None)."""
        self.write(runlog.sample(kind, t=self.wall(t), **fields), flush=True)

    def event(self, name: str, detail: str = "", t: float | None = None) -> None:
        self.write(runlog.event(name, detail, t=self.wall(t)), flush=True)

    def timing(self, name: str, t: float, **fields: Any) -> None:
        self.sample("timing", t, name=name, **fields)

    def utilization(self, record: dict) -> None:
        """A `utilization` record as the sampling loop made it (wall-clock time already)."""
        self.write(record)

    def requests(self, answers: Sequence[Answer]) -> None:
        if answers:
            self.write(requests_record(answers, self.clock), flush=True)

    def end(self, record: dict) -> None:
        """The end record, then the log is closed."""
        with self._lock:
            self._check_failure()
            with self._noting_failure():
                self._writer.write(record)
                self._writer.close()

    def close(self) -> None:
        with self._lock:
            self._writer.close()


def requests_record(answers: Sequence[Answer], clock: EndpointClock) -> dict:
    """One iteration's answers as a column-batched `requests` record."""
    return {
        "type": runlog.REQUESTS,
        "worker": "local",
        "n": len(answers),
        "t": [round(clock.wall_time(a.t), 6) for a in answers],
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
        "step": [a.iteration for a in answers],
    }
