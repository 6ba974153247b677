"""One frame of a lens (its chain of detector calls as one unit) and the recorder that streams
every call and every frame into `load_test.log`.

A frame:
    single_binary   one BINARY query
    single_bbox     one BOUNDING_BOX query
    bbox_to_binary  one BOUNDING_BOX query, then `objects` BINARY queries at once (the crops
                    of the objects the frame shows; the same small image, as upstream)
Each call is a stage: a `requests` row (the `detector` column names the stage's detector,
which the `lens_detectors` sample maps to its lens, stage and copy; `step` is the run). The
frame's latency is the wall time of its whole chain; it is ok when every call was.

The fan-out is exactly `objects` calls, whatever the box detector answered (upstream's rule:
the load a frame makes is the config's, not the model's accuracy); the frame images show
exactly `objects` objects, so a right answer has that many boxes anyway.

Frame records are `sample` records of kind `frames`, column-batched like requests:
    {"type": "sample", "t", "kind": "frames", "n",
     "lens": [..], "run": [..], "camera": [..], "copy": [..],
     "start": [UNIX s], "latency_ms": [..], "ok": [1|0]}

Imports neither locust nor gevent: the fan-out is given as `parallel`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from edgeload import runlog
from edgeload.errors import OutputError

FRAMES = "frames"  # sample kind: frame rows
DETECTORS = "lens_detectors"  # sample kind: detector id -> lens, stage, copy
RUN_END = "run_end"  # sample kind: a run's load stopped (its index, how it ended)
FRAME_COLUMNS = ("lens", "run", "camera", "copy", "start", "latency_ms", "ok")
BATCH_ROWS = 500  # rows per record (requests or frames) before it is written

# (detector id, JPEG, answer spec) -> outcome with .ok, .status, .error
Submit = Callable[[str, bytes, Any], Any]
# run the calls at once, return their results in order
Parallel = Callable[[Sequence[Callable[[], Any]]], list]


@dataclass(frozen=True)
class Stage:
    """One call of a chain: its detector, the answer shape, and where its images come from."""

    name: str
    detector_id: str
    spec: Any  # edgeload.clients.AnswerSpec | None
    image: Callable[[], bytes]  # unique bytes of the next image


@dataclass(frozen=True)
class Chain:
    """A lens's frame for one detector copy: its stages in order and the fan-out."""

    lens: str
    type: str
    stages: tuple[Stage, ...]
    fan_out: int  # bbox_to_binary: binary calls per frame; else 1


class Recorder:
    """Request rows and frame rows, written as batches. Each row is one append, so an
    interruption between two bytecodes never leaves columns of different lengths."""

    def __init__(self, write: Callable[[dict], None], flush: Callable[[], None]) -> None:
        self._write = write
        self._flush = flush
        self.requests: list[tuple] = []
        self.frames: list[tuple] = []
        self.closed = False
        self.error: Exception | None = None  # a write that failed (OutputError): the run ends

    def request(
        self, t: float, latency_ms: float, outcome: Any, detector: str, clients: int, run: int
    ) -> None:
        # in runlog.REQUEST_COLUMNS order; intended None: a frame's call is never paced itself
        self.requests.append(
            (
                t,
                None,
                latency_ms,
                1 if outcome.ok else 0,
                getattr(outcome, "status", 0),
                outcome.error,
                detector,
                clients,
                run,
            )
        )
        if len(self.requests) >= BATCH_ROWS:
            self.flush()

    def frame(
        self, lens: str, run: int, camera: int, copy: int, start: float, latency_ms: float, ok: bool
    ) -> None:
        self.frames.append((lens, run, camera, copy, start, latency_ms, 1 if ok else 0))
        if len(self.frames) >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        """Write what is pending (nothing once closed: a failed write closed the log)."""
        requests, self.requests = self.requests, []
        frames, self.frames = self.frames, []
        if self.closed:
            return
        try:
            self._write_batches(requests, frames)
        except OutputError as exc:  # raised in a camera, where Locust would only log it
            self.closed, self.error = True, exc

    def _write_batches(self, requests: list[tuple], frames: list[tuple]) -> None:
        if requests:
            columns = zip(*requests, strict=True)
            record = {"type": runlog.REQUESTS, "worker": "local", "n": len(requests)}
            record.update(dict(zip(runlog.REQUEST_COLUMNS, map(list, columns), strict=True)))
            self._write(record)
        if frames:
            columns = dict(zip(FRAME_COLUMNS, map(list, zip(*frames, strict=True)), strict=True))
            self._write(runlog.sample(FRAMES, n=len(frames), **columns))
        if requests or frames:
            self._flush()


def run_frame(
    chain: Chain,
    submit: Submit,
    parallel: Parallel,
    on_call: Callable[[float, float, Any, str], None],
) -> bool:
    """One frame of `chain`; `on_call(start, latency_ms, outcome, detector)` for each call.
    True when every call succeeded."""

    def call(stage: Stage) -> bool:
        jpeg = stage.image()
        start = time.time()
        t0 = time.perf_counter()
        outcome = submit(stage.detector_id, jpeg, stage.spec)
        on_call(start, (time.perf_counter() - t0) * 1e3, outcome, stage.detector_id)
        return bool(outcome.ok)

    first = chain.stages[0]
    ok = call(first)
    if len(chain.stages) == 1:
        return ok
    second = chain.stages[1]
    # the crops do not wait for the box answer's quality: every frame makes the same load
    results = parallel([lambda: call(second) for _ in range(chain.fan_out)])
    return ok and all(results)
