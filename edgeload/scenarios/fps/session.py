"""One FPS run: its run folder and `load_test.log`, each image size provisioned and measured in
turn, the end record and the reports. Used by the CLI (`run.py`) and the locustfile
(`locust_run.py`).

What it writes (the format is `edgeload.runlog`; the fps fields `analysis.py` reads):

    header      scenario "fps", the inputs, the run's metadata
    step        per image size, one for the warm-up and one for the test (`phase`,
                `image_size`, the detector and the pipeline config provisioning recorded)
    requests    every submission, warm-up and test, in batches
    sample      `pipeline_config` readings (`pipeline_config.py`); `size_end` when a size's
                measurement ends (status, error, the endpoint's images)
    end         completed / interrupted (with the signal) / failed
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from edgeload import runlog
from edgeload.runfolder import create_run_dir
from edgeload.runlog import LogWriter
from edgeload.scenarios.fps import pipeline_config as pc
from edgeload.scenarios.fps.analysis import SIZE_END
from edgeload.scenarios.fps.measure import (
    INTERRUPTED,
    RUNNING,
    WARMUP,
    Hooks,
    Measurement,
    measure,
)
from edgeload.scenarios.fps.options import Inputs
from edgeload.sessionrun import end_and_report

SCENARIO = "fps"
BATCH_SIZE = 250  # requests per `requests` record (written between submissions)

Submitter = tuple[Callable[[], Any], Callable[[Any], Any]]  # (prepare, submit)
# image size "WxH" -> an extra observer of every submission (the locustfile feeds Locust's
# statistics with it): observer(phase, wall-clock start, seconds, outcome)
ObserverFactory = Callable[[str], Callable[[str, float, float, Any], None]]


class RequestBatch:
    """The request records of the current step, until they are written as one record.

    Each submission is kept as one row, added with a single append: a Ctrl-C (raised between
    any two bytecodes) can never leave a half-added request whose columns differ in length."""

    def __init__(self) -> None:
        self.rows: list[tuple] = []

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, t: float, seconds: float, outcome: Any, detector: str, step: int) -> None:
        # in runlog.REQUEST_COLUMNS order; intended is None: back to back, never paced
        row = (t, None, seconds * 1e3, 1 if outcome.ok else 0, getattr(outcome, "status", 0),
               outcome.error, detector, 1, step)  # fmt: skip
        self.rows.append(row)

    def take(self) -> dict | None:
        """The batch as a `requests` record (None when empty); the batch starts over."""
        rows, self.rows = self.rows, []
        if not rows:
            return None
        by_column = zip(*rows, strict=True)
        columns = {
            name: list(values)
            for name, values in zip(runlog.REQUEST_COLUMNS, by_column, strict=True)
        }
        return {"type": runlog.REQUESTS, "worker": "local", "n": len(rows), **columns}


class FpsSession:
    """One FPS run against one target (see the module docstring)."""

    def __init__(
        self,
        inputs: Inputs,
        target: Any,
        *,
        out: TextIO | None = None,
        progress_stream: TextIO | None = None,
        submitter_factory: Callable[..., Submitter] | None = None,
        observer_factory: ObserverFactory | None = None,
    ) -> None:
        self.inputs = inputs
        self.target = target
        self.out = out if out is not None else sys.stdout
        self.progress_stream = progress_stream
        self.submitter_factory = submitter_factory or default_submitter
        self.observer_factory = observer_factory
        self.run_dir: Path | None = None
        self.run_id = runlog.new_run_id()
        self.writer: LogWriter | None = None
        self.batch = RequestBatch()
        self.step = -1
        self.current: tuple[dict, Measurement] | None = None  # the size being measured
        self.finished = False
        self._gl = None

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    @property
    def gl(self) -> Any:
        if self._gl is None:
            from edgeload.target import make_sdk

            self._gl = make_sdk(self.target, retries=False)
        return self._gl

    # -- the run ---------------------------------------------------------------------------
    def start(self) -> Path:
        """Create the run folder and the log, and write its header (before any load)."""
        from edgeload.metadata import collect_metadata

        self.run_dir = create_run_dir(self.inputs.output_dir, SCENARIO)
        self.writer = LogWriter(self.run_dir / runlog.LOG_FILENAME)
        try:
            metadata = collect_metadata(self.target)
        except Exception as exc:  # metadata must never fail a run
            metadata = {"error": f"metadata collection failed: {exc}"}
        metadata["images"] = {"mode": self.inputs.detector_mode, "unique_per_request": True}
        self.write(
            runlog.header(
                scenario=SCENARIO,
                run_id=self.run_id,
                target=self.target.as_record(),
                inputs=self.inputs.as_record(),
                metadata=metadata,
            )
        )
        self.writer.flush()
        return self.run_dir

    def write(self, record: dict) -> None:
        assert self.writer is not None
        self.writer.write(record)

    def run_size(self, size: tuple[int, int]) -> Measurement:
        """Provision, warm up and measure one image size, every record into the log."""
        image_size = f"{size[0]}x{size[1]}"
        self.say(f"[{image_size}] provisioning a {self.inputs.detector_mode} detector")
        detector = provision_for_size(self, size)
        self.say(f"[{image_size}] detector {detector.id} ({detector.name!r}) served by the edge; "
                 + _pipeline_words(detector))  # fmt: skip
        size_fields = {
            "image_size": image_size,
            "image_width": size[0],
            "image_height": size[1],
            "detector_id": detector.id,
            "detector_name": detector.name,
            "detector_query": detector.query,
            "pipeline_config": detector.pipeline_config,
            "pipeline_config_source": detector.pipeline_config_source,
            "pipeline_config_confirmed": detector.pipeline_config_confirmed,
        }
        self.write(self._provisioned_reading(size_fields))
        prepare, submit = self.submitter_factory(self, detector, size)
        m = Measurement(self.inputs.warmup_iterations, self.inputs.iterations)
        self.current = (size_fields, m)
        try:
            measure(
                m,
                submit,
                self._config_reader(detector.id),
                prepare=prepare,
                hooks=self._hooks(size_fields, m),
                config_check_interval_s=self.inputs.config_check_interval,
                progress_stream=self.progress_stream,
                label=f"[{image_size}]",
            )
        finally:
            getattr(submit, "close", lambda: None)()
            self._flush_requests()
        self._end_size(with_images=True)
        return m

    def _provisioned_reading(self, fields: dict) -> dict:
        return runlog.sample(
            pc.KIND,
            image_size=fields["image_size"],
            detector_id=fields["detector_id"],
            phase=pc.PROVISIONED,
            pipeline_config=fields["pipeline_config"],
            source=fields["pipeline_config_source"],
            confirmed=fields["pipeline_config_confirmed"],
            completed_iterations=0,
            error=None,
        )

    def _config_reader(self, detector_id: str) -> Callable[[], str | None]:
        from edgeload.provisioning import fetch_pipeline_config

        target = self.target
        return lambda: fetch_pipeline_config(target, detector_id)

    def _hooks(self, fields: dict, m: Measurement) -> Hooks:
        ids = {"image_size": fields["image_size"], "detector_id": fields["detector_id"]}
        batch, detector = self.batch, fields["detector_id"]
        extra = self.observer_factory(fields["image_size"]) if self.observer_factory else None

        def on_phase(phase: str) -> None:
            self._flush_requests()
            self.step += 1
            iterations = m.warmup_iterations if phase == WARMUP else m.iterations
            self.write(self._step_record(phase, fields, iterations))
            self.writer.flush()

        def on_config(reading: dict) -> None:
            self.write({**reading, **ids})

        def observer(phase: str, started: float, seconds: float, outcome: Any) -> None:
            batch.add(started, seconds, outcome, detector, self.step)
            if len(batch) >= BATCH_SIZE:
                self._flush_requests()
            if extra is not None:
                extra(phase, started, seconds, outcome)

        return Hooks(on_phase=on_phase, on_config=on_config, observer=observer)

    def _step_record(self, phase: str, fields: dict, iterations: int) -> dict:
        return {
            "type": runlog.STEP,
            "t": time.time(),
            "step": self.step,
            "clients": 1,
            "expected_rps": None,  # back to back: as fast as the endpoint answers
            "phase": phase,
            "iterations": iterations,
            **fields,
        }

    def _flush_requests(self) -> None:
        record = self.batch.take()
        if record is not None and self.writer is not None and not self.writer.closed:
            self.write(record)
            self.writer.flush()

    def _end_size(self, *, with_images: bool) -> None:
        """The `size_end` sample of the size being measured, and one line about it."""
        if self.current is None:
            return
        fields, m = self.current
        self.current = None
        if m.status == RUNNING:
            m.status = INTERRUPTED
        images = self._endpoint_images(fields["image_size"]) if with_images else {}
        self.write(
            runlog.sample(
                SIZE_END,
                image_size=fields["image_size"],
                detector_id=fields["detector_id"],
                status=m.status,
                error=m.error,
                edge_endpoint_image=images.get("edge_endpoint"),
                inference_server_image=images.get("inference_server"),
            )
        )
        self.writer.flush()
        n = len(m.latencies_s)
        rate = f", {n / sum(m.latencies_s):.1f} submissions/s" if n else ""
        note = f" - INVALID: {m.invalid_reason}" if not m.valid else ""
        note = note or (f" - {m.error}" if m.error else "")
        self.say(f"[{fields['image_size']}] {m.status}: {n} measured submissions{rate}{note}")

    def _endpoint_images(self, image_size: str) -> dict:
        from edgeload.provisioning import fetch_endpoint_images

        try:
            return fetch_endpoint_images(self.target) or {}
        except Exception as exc:  # best effort: the images are metadata, not the result
            self.say(f"[{image_size}] could not read the endpoint's images: {exc}")
            return {}

    # -- the end ---------------------------------------------------------------------------
    def finish(self, status: str, reason: str, signal_name: str | None = None) -> dict | None:
        """End the log (keeping a measurement cut short), write the reports, print the
        summary; the results (None when the run never opened its log). Idempotent."""
        if self.finished or self.writer is None:
            return None
        self.finished = True
        assert self.run_dir is not None
        try:
            if not self.writer.closed:  # else a write failed: what reached the disk stays
                self._flush_requests()
                self._end_size(with_images=False)
            end = runlog.end(status, reason, signal=signal_name)
            return end_and_report(self.writer, self.run_dir, end, self.say)
        finally:
            self._close_sdk()

    def _close_sdk(self) -> None:
        gl, self._gl = self._gl, None
        if gl is not None:
            try:
                gl.close()
            except Exception:
                pass


def provision_for_size(session: FpsSession, size: tuple[int, int]) -> Any:
    from edgeload.provisioning import provision_detector

    simulated = getattr(session.target, "sim", None) is not None
    return provision_detector(
        session.gl,
        mode=session.inputs.detector_mode,
        image_size=size,
        detector_id=session.inputs.detector_id,
        timeout_s=session.inputs.provision_timeout,
        progress=session.say,
        target=session.target,
        # an embedded simulator answers status polls in microseconds: poll it often
        poll_s=0.25 if simulated else 2.0,
        mode_size=session.inputs.mode_size,
        edge_pipeline_config=session.inputs.edge_pipeline_config,
    )


def default_submitter(session: FpsSession, detector: Any, size: tuple[int, int]) -> Submitter:
    """(prepare, submit) for the chosen client (`edgeload.clients`): `prepare` takes the next
    pre-generated image (unique bytes, untimed); `submit` sends it and checks the answer."""
    from edgeload.clients import AnswerSpec, HttpSubmitter, submit_sdk
    from edgeload.images import ImagePool

    n = getattr(detector, "mode_size", None)
    pool = ImagePool(session.inputs.detector_mode, size[0], size[1], n=n)
    spec = AnswerSpec.of(detector.answer_spec()) if hasattr(detector, "answer_spec") else None

    def prepare() -> bytes:
        return pool.next()[0]

    if session.inputs.client == "http":
        return prepare, HttpSubmitter(session.target, detector.id, spec=spec)
    gl, detector_id = session.gl, detector.id
    return prepare, lambda jpeg: submit_sdk(gl, detector_id, jpeg, spec)


def _pipeline_words(detector: Any) -> str:
    """The detector's pipeline config as provisioning recorded it, with its provenance (the
    same words as the results: confirmed by the edge, or only the cloud's)."""
    from edgeload.provisioning import PipelineConfig
    from edgeload.target import one_line

    config = getattr(detector, "pipeline_config", None)
    provenance = PipelineConfig(
        config,
        getattr(detector, "pipeline_config_source", "unknown"),
        bool(getattr(detector, "pipeline_config_confirmed", False)),
    ).describe()
    return provenance + (f" ({one_line(config, 80)!r})" if config else "")
