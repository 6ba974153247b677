"""One lens sweep against one target: its run folder and `load_test.log`, the detectors of
every lens, each run's load in turn, the end record and the reports.

What it writes (the format is `edgeload.runlog`; the fields `analysis.py` reads):

    header      scenario "lenses", the inputs (the lenses and every run's values), metadata
    sample      `lens_detectors`: every detector, with its lens, stage and copy
    step        per run: `step` = `run` = the run's index, `clients` = its cameras of every
                lens, `warmup_s`, `duration_s` (the measured window is [t + warmup_s,
                t + warmup_s + duration_s)), `label`, and each lens's values in `lenses`
    requests    every call of every frame (`detector`: the stage, `step`: the run)
    sample      `frames`: every frame (frames.py); `run_end`: a run's load stopped
    end         completed / interrupted (with the signal) / failed

Images are made before anything starts (`make_images`): the frames of a box stage show
exactly `objects` objects, which must fit the lens's image size. Detectors are provisioned
through the SDK; the cameras submit with `--client` (`submitter`): the SDK, or one raw HTTP
client shared by every camera; both closed at the end, however the sweep ends.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, TextIO

from edgeload import runlog
from edgeload.errors import UsageError
from edgeload.runfolder import create_run_dir
from edgeload.runlog import LogWriter
from edgeload.scenarios.lenses.config import BBOX, BBOX_TO_BINARY, Lens
from edgeload.scenarios.lenses.frames import DETECTORS, RUN_END, Chain, Recorder, Stage
from edgeload.scenarios.lenses.options import Inputs
from edgeload.sessionrun import end_and_report

SCENARIO = "lenses"
Pools = dict[tuple[str, str, int], Any]  # (lens, stage, objects) -> ImagePool


def make_images(inputs: Inputs) -> Pools:
    """Every image pool of the sweep; UsageError when a lens's objects do not fit its image."""
    from edgeload.images import ImagePool

    pools: Pools = {}
    for lens in inputs.config.lenses:
        for stage, mode in lens.stages:
            w, h = lens.stage_image_size(stage)
            counts = sorted(set(lens.objects)) if stage == BBOX else [0]
            for n in counts:
                try:
                    pools[(lens.name, stage, n)] = (
                        ImagePool(mode, w, h, n=max(lens.objects), count=n)
                        if stage == BBOX
                        else ImagePool(mode, w, h)
                    )
                except ValueError:
                    raise UsageError(
                        f"lens {lens.name}: {n} separate objects do not fit in a {w}x{h} "
                        "image: give it a larger image_size or fewer objects"
                    ) from None
    return pools


def detector_name(lens: Lens, stage: str, mode: str) -> str:
    """The stable name of a lens stage's detectors (copies add -2, -3, ...): reruns of the
    same config reuse them; another box size or pipeline is another detector."""
    from edgeload.provisioning import pipeline_config_hash

    w, h = lens.stage_image_size(stage)
    name = f"edgeload-lens-{lens.name}-{stage}-{w}x{h}"
    if mode == "BOUNDING_BOX":
        name += f"-n{max(lens.objects)}"
    if lens.pipelines.get(stage):
        name += f"-p{pipeline_config_hash(lens.pipelines[stage])}"
    return name


class LensSession:
    """The sweep's run folder, log, detectors and runs (see the module docstring)."""

    def __init__(self, inputs: Inputs, target: Any, pools: Pools, *, out: TextIO | None = None):
        self.inputs = inputs
        self.config = inputs.config
        self.target = target
        self.pools = pools
        self.out = out if out is not None else sys.stdout
        self.run_dir: Path | None = None
        self.writer: LogWriter | None = None
        self.recorder: Recorder | None = None
        self.detectors: dict[tuple[str, str], list[Any]] = {}  # (lens, stage) -> per copy
        self.current_run: int | None = None
        self.finished = False
        self._gl: Any = None
        self._http: Any = None  # edgeload.clients.SharedHttpSubmit, with --client http

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    @property
    def gl(self) -> Any:
        if self._gl is None:
            from edgeload.target import make_sdk

            self._gl = make_sdk(self.target, pool_size=self.concurrency(), retries=False)
        return self._gl

    def submitter(self) -> Any:
        """The cameras' submit function, `(detector_id, jpeg, spec) -> Outcome`, for every
        run: the SDK client, or (--client http) one raw HTTP client shared by every camera
        and fan-out call, its pool as large as the SDK's."""
        from edgeload.clients import SharedHttpSubmit, submit_sdk

        if self.inputs.client == "http":
            if self._http is None:
                self._http = SharedHttpSubmit(self.target, pool_size=self.concurrency())
            return self._http
        gl = self.gl
        return lambda detector, jpeg, spec: submit_sdk(gl, detector, jpeg, spec)

    def concurrency(self) -> int:
        """Most calls in flight at once in any run: the client's connection pool."""
        return max(
            sum(
                lens.users(i) * (lens.objects[i] if lens.type == BBOX_TO_BINARY else 1)
                for lens in self.config.lenses
            )
            for i in range(self.config.runs)
        )

    def write(self, record: dict) -> None:
        assert self.writer is not None
        self.writer.write(record)

    # -- set-up ----------------------------------------------------------------------------
    def start(self) -> Path:
        """The run folder and the log's header (before any detector or load)."""
        from edgeload.metadata import collect_metadata

        self.run_dir = create_run_dir(self.inputs.output_dir, SCENARIO)
        self.writer = LogWriter(self.run_dir / runlog.LOG_FILENAME)
        self.recorder = Recorder(self.write, self.writer.flush)
        try:
            metadata = collect_metadata(self.target)
        except Exception as exc:  # metadata must never fail a run
            metadata = {"error": f"metadata collection failed: {exc}"}
        metadata["images"] = {"unique_per_request": True}
        self.write(
            runlog.header(
                scenario=SCENARIO,
                run_id=runlog.new_run_id(),
                target=self.target.as_record(),
                inputs=self.inputs.as_record(),
                metadata=metadata,
            )
        )
        self.writer.flush()
        return self.run_dir

    def provision(self) -> None:
        """Every lens stage's detectors (its most copies), ready on the edge; one sample."""
        from edgeload.provisioning import provision_detectors

        simulated = getattr(self.target, "sim", None) is not None
        rows = []
        for lens in self.config.lenses:
            copies = max(lens.copies)
            for stage, mode in lens.stages:
                self.say(f"[{lens.name}] provisioning {copies} {mode} detector(s) ({stage})")
                given = lens.detector_ids.get(stage)
                name = detector_name(lens, stage, mode)
                found = provision_detectors(
                    self.gl,
                    copies,
                    mode=mode,
                    image_size=lens.stage_image_size(stage),
                    detector_ids=[given] if given else None,
                    names=[name if k == 0 else f"{name}-{k + 1}" for k in range(copies)],
                    timeout_s=self.inputs.provision_timeout,
                    progress=self.say,
                    target=self.target,
                    poll_s=0.25 if simulated else 2.0,
                    mode_size=max(lens.objects) if mode == "BOUNDING_BOX" else None,
                    edge_pipeline_config=lens.pipelines.get(stage),
                )
                self.detectors[(lens.name, stage)] = found
                rows += [
                    {"lens": lens.name, "stage": stage, "copy": k, **d.as_record()}
                    for k, d in enumerate(found)
                ]
        self.write(runlog.sample(DETECTORS, detectors=rows))
        self.writer.flush()

    # -- the runs --------------------------------------------------------------------------
    def chains(self, lens: Lens, run: int) -> list[Chain]:
        from edgeload.clients import AnswerSpec

        chains = []
        for k in range(lens.copies[run]):
            stages = []
            for stage, _mode in lens.stages:
                detector = self.detectors[(lens.name, stage)][k]
                n = lens.objects[run] if stage == BBOX else 0
                pool = self.pools[(lens.name, stage, n)]
                stages.append(
                    Stage(
                        stage,
                        detector.id,
                        AnswerSpec.of(detector.answer_spec()),
                        lambda pool=pool: pool.next()[0],
                    )
                )
            fan_out = lens.objects[run] if lens.type == BBOX_TO_BINARY else 1
            chains.append(Chain(lens.name, lens.type, tuple(stages), fan_out))
        return chains

    def run(self, run: int) -> None:
        """One run: its step record, every lens's cameras under Locust for warm-up +
        duration, its frames written, its `run_end` sample."""
        from edgeload.scenarios.lenses import users

        assert self.recorder is not None
        config = self.config
        clients = sum(lens.users(run) for lens in config.lenses)
        submit = self.submitter()
        classes = [
            users.lens_user_class(
                lens.name,
                users.LensPlan(
                    run,
                    lens.cameras[run],
                    self.chains(lens, run),
                    lens.target_fps,
                    clients,
                    submit,
                    self.recorder,
                ),
                lens.users(run),
            )
            for lens in config.lenses
        ]
        label = config.run_label(run)
        self.say(
            f"{label}: {clients} cameras ({self.inputs.client} client), {config.warmup_s:g} s "
            f"warm-up + {config.duration_s:g} s"
        )
        self.current_run = run
        self.write(
            {
                "type": runlog.STEP,
                "t": time.time(),
                "step": run,
                "clients": clients,
                "expected_rps": self._expected_rps(run),
                "planned_s": config.warmup_s + config.duration_s,
                "run": run,
                "label": label,
                "warmup_s": config.warmup_s,
                "duration_s": config.duration_s,
                "lenses": config.run_params(run),
            }
        )
        self.writer.flush()
        users.run_load(classes, config.warmup_s + config.duration_s)
        if self.recorder.error is not None:
            raise self.recorder.error
        self._end_run("completed")

    def _expected_rps(self, run: int) -> float | None:
        """Calls/s of the paced lenses (None when a lens is unpaced: no expectation)."""
        total = 0.0
        for lens in self.config.lenses:
            if lens.target_fps <= 0:
                return None
            calls = 1 + (lens.objects[run] if lens.type == BBOX_TO_BINARY else 0)
            total += lens.users(run) * lens.target_fps * calls
        return total

    def _end_run(self, status: str) -> None:
        if self.current_run is None or self.recorder is None:
            return
        run, self.current_run = self.current_run, None
        self.recorder.flush()
        self.write(runlog.sample(RUN_END, run=run, status=status))
        self.writer.flush()

    # -- the end ---------------------------------------------------------------------------
    def finish(self, status: str, reason: str, signal_name: str | None = None) -> dict | None:
        """End the log, write the reports, print the summary; the results (None when the log
        never opened or a write failed). Idempotent."""
        if self.finished or self.writer is None:
            return None
        self.finished = True
        assert self.run_dir is not None
        try:
            if not self.writer.closed and self.recorder is not None:
                self._end_run("interrupted")
                self.recorder.closed = True
            end = runlog.end(status, reason, signal=signal_name)
            return end_and_report(self.writer, self.run_dir, end, self.say)
        finally:
            self._close_clients()

    def _close_clients(self) -> None:
        """Close the SDK client and the HTTP client (whichever were made); never raises."""
        for client in (self._gl, self._http):
            if client is not None:
                try:
                    client.close()
                except Exception:
                    pass
        self._gl = self._http = None
