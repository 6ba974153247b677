"""One edge-vs-cloud run: its run folder and `load_test.log`, the detector, its recent images
each answered by the edge and by the cloud, the end record and the reports.

What it writes (the format is `edgeload.runlog`; the fields `analysis.py` reads):

    header      scenario "edge-vs-cloud", the inputs, the run's metadata (with `paths`: how
                each side's answer is fetched)
    sample      `detector`: the detector compared (id, name, query, mode, edgeload's own or
                given, images seeded); `listed`: how many recent image queries were found;
                `comparison`: one per image (the source image query and its stored answer,
                then `edge_*` and `cloud_*`: image query id, label, confidence, latency_ms,
                source, from_edge, error)
    end         completed / interrupted (with the signal) / failed
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TextIO

from edgeload import runlog
from edgeload.runfolder import create_run_dir
from edgeload.runlog import LogWriter
from edgeload.scenarios.edge_vs_cloud import answers as ans
from edgeload.scenarios.edge_vs_cloud.options import SCENARIO, Inputs
from edgeload.sessionrun import end_and_report
from edgeload.target import error_line

DETECTOR = "detector"
LISTED = "listed"
COMPARISON = "comparison"
EDGE_PATH = (
    "edge: POST /device-api/v1/image-queries to the edge with confidence_threshold=0 and "
    "human_review=NEVER (the edge model's own answer, never escalated; provenance checked)"
)


def cloud_path(cloud_endpoint: str | None) -> str:
    where = cloud_endpoint or "the cloud behind the edge (async query forwarded by the edge)"
    return (
        f"cloud: {where}: async image query with human_review=NEVER, then GET "
        "/v1/image-queries/{id} until answered"
    )


class Session:
    """One edge-vs-cloud run against one target (see the module docstring)."""

    def __init__(
        self,
        inputs: Inputs,
        target: Any,
        *,
        out: TextIO | None = None,
        progress_stream: TextIO | None = None,
    ) -> None:
        self.inputs = inputs
        self.target = target
        self.out = out if out is not None else sys.stdout
        self.progress_stream = progress_stream
        self.run_dir: Path | None = None
        self.writer: LogWriter | None = None
        self.finished = False
        self._gl: Any = None
        self._gl_cloud: Any = None

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def progress(self, text: str) -> None:
        if self.progress_stream is not None:
            self.progress_stream.write(text + "\n")
            self.progress_stream.flush()

    @property
    def gl(self) -> Any:
        """The SDK client of the edge."""
        if self._gl is None:
            from edgeload.target import make_sdk

            self._gl = make_sdk(self.target, retries=False)
        return self._gl

    @property
    def gl_cloud(self) -> Any:
        """The SDK client of the cloud side: the edge's own client, or one of --cloud-endpoint
        (verified with the system's CAs: --ca-bundle is the edge's)."""
        if self.inputs.cloud_endpoint is None:
            return self.gl
        if self._gl_cloud is None:
            from edgeload.cloudside import cloud_sdk

            self._gl_cloud = cloud_sdk(self.target, self.inputs.cloud_endpoint)
        return self._gl_cloud

    def write(self, record: dict, *, flush: bool = False) -> None:
        assert self.writer is not None
        self.writer.write(record)
        if flush:
            self.writer.flush()

    # -- the run ---------------------------------------------------------------------------
    def start(self) -> Path:
        """Create the run folder and the log, and write its header."""
        from edgeload.metadata import collect_metadata

        self.run_dir = create_run_dir(self.inputs.output_dir, SCENARIO)
        self.writer = LogWriter(self.run_dir / runlog.LOG_FILENAME)
        try:
            metadata = collect_metadata(self.target)
        except Exception as exc:  # metadata must never fail a run
            metadata = {"error": f"metadata collection failed: {exc}"}
        metadata["paths"] = {"edge": EDGE_PATH, "cloud": cloud_path(self.inputs.cloud_endpoint)}
        self.write(
            runlog.header(
                scenario=SCENARIO,
                run_id=runlog.new_run_id(),
                target=self.target.as_record(),
                inputs=self.inputs.as_record(),
                metadata=metadata,
            ),
            flush=True,
        )
        return self.run_dir

    def run(self) -> None:
        """The detector, its recent images, and each one answered on both sides."""
        detector = self._detector()
        queries = ans.recent_queries(self.gl_cloud, detector["id"], self.inputs.sample)
        self.write(runlog.sample(LISTED, asked=self.inputs.sample, found=len(queries)), flush=True)
        self.say(f"{len(queries)} recent image queries of {detector['id']} to answer again")
        if not queries:
            return
        if not detector["own"]:
            self._wait_for_edge(detector["id"], queries[0].id)
        for i, query in enumerate(queries, 1):
            row = self._compare(detector["id"], query)
            self.write(runlog.sample(COMPARISON, index=i, **row), flush=True)
            self.progress(_progress_line(i, len(queries), row))

    def _detector(self) -> dict:
        """The detector to compare (a sample record): the given one, or edgeload's own,
        provisioned, served by the edge and seeded with fresh images."""
        inputs = self.inputs
        if inputs.detector_id is not None:
            det = self.gl_cloud.get_detector(inputs.detector_id)
            record = _detector_fields(det, own=False, seeded=0)
        else:
            det = self._provision()
            seeded = self._seed(det.id)
            record = _detector_fields(det, own=True, seeded=seeded)
        self.write(runlog.sample(DETECTOR, **record), flush=True)
        self.say(f"detector {record['id']} ({record['name']!r}, {record['mode']})")
        return record

    def _provision(self) -> Any:
        from edgeload.provisioning import provision_detector

        inputs = self.inputs
        self.say(f"provisioning edgeload's own {inputs.detector_mode} detector")
        return provision_detector(
            self.gl,
            mode=inputs.detector_mode,
            image_size=inputs.image_size,
            timeout_s=inputs.provision_timeout,
            progress=self.say,
            target=self.target,
            poll_s=0.25 if getattr(self.target, "sim", None) is not None else 2.0,
            mode_size=inputs.mode_size,
        )

    def _seed(self, detector_id: str) -> int:
        """Fresh images for edgeload's own detector, sent to the cloud side as async queries
        (human_review NEVER), so that its most recent image queries are this run's images."""
        from edgeload.images import ImagePool

        inputs = self.inputs
        width, height = inputs.image_size
        pool = ImagePool(inputs.detector_mode, width, height, n=inputs.mode_size)
        self.say(f"seeding {detector_id} with {inputs.sample} fresh {width}x{height} images")
        for _ in range(inputs.sample):
            self.gl_cloud.ask_async(detector_id, pool.next()[0], human_review="NEVER")
        return inputs.sample

    def _wait_for_edge(self, detector_id: str, first_iq: str) -> None:
        """A given detector: ask the edge about its first image until the edge's own model
        answers (its inference pod is ready), at most --provision-timeout."""
        from edgeload.wait import Wait

        image = ans.image_of(self.gl_cloud, first_iq)
        wait = Wait(self.inputs.provision_timeout, progress=self.say, max_pause_s=2.0)
        last = ["no answer yet"]
        while True:
            answer = ans.edge_answer(self.gl, detector_id, image, self.target.token)
            if answer.error is None:
                return
            last[0] = answer.error
            if wait.expired:
                self.say(f"the edge does not answer {detector_id} itself: {answer.error}")
                return  # the comparisons record each image's edge error
            wait.pause(
                timed_out=lambda: "",
                lines=lambda left: [
                    f"waiting for the edge to answer {detector_id}: {last[0]}; {left:.0f} s left"
                ],
            )

    def _compare(self, detector_id: str, query: ans.SourceQuery) -> dict:
        """One image: its source image query, the edge's answer, the cloud's answer."""
        token = self.target.token
        row: dict[str, Any] = {
            "source_iq_id": query.id,
            "source_created_at": query.created_at,
            "source_label": query.label,
            "source_confidence": query.confidence,
            "source_source": query.source,
            "image_bytes": None,
            "image_error": None,
        }
        try:
            image = ans.image_of(self.gl_cloud, query.id)
            row["image_bytes"] = len(image)
        except Exception as exc:  # an image the cloud no longer has: recorded, not fatal
            row["image_error"] = error_line(exc, token)
            return row
        row.update(ans.edge_answer(self.gl, detector_id, image, token).fields(ans.EDGE))
        cloud = ans.cloud_answer(
            self.gl_cloud, detector_id, image, token, timeout_s=self.inputs.answer_timeout
        )
        row.update(cloud.fields(ans.CLOUD))
        return row

    # -- the end ---------------------------------------------------------------------------
    def finish(self, status: str, reason: str, signal_name: str | None = None) -> dict | None:
        """End the log, write the reports, print the summary; the results (None when the run
        never opened its log or a write failed). Idempotent."""
        try:
            if self.finished or self.writer is None:
                return None
            self.finished = True
            assert self.run_dir is not None
            end = runlog.end(status, reason, signal=signal_name)
            return end_and_report(self.writer, self.run_dir, end, self.say)
        finally:
            self._close_sdks()

    def _close_sdks(self) -> None:
        for name in ("_gl", "_gl_cloud"):
            gl = getattr(self, name)
            setattr(self, name, None)
            if gl is not None:
                try:
                    gl.close()
                except Exception:
                    pass


def _detector_fields(det: Any, *, own: bool, seeded: int) -> dict:
    mode = getattr(det, "mode", None)
    return {
        "id": det.id,
        "name": getattr(det, "name", None),
        "query": getattr(det, "query", None),
        "mode": str(getattr(mode, "value", mode)) if mode is not None else None,
        "own": own,
        "seeded_images": seeded,
    }


def _progress_line(i: int, n: int, row: dict) -> str:
    def side(name: str) -> str:
        error = row.get(f"{name}_error")
        if error:
            return f"{name} error ({error})"
        conf = row.get(f"{name}_confidence")
        shown = "n/a" if conf is None else f"{conf:.3f}"
        return f"{name} {row.get(f'{name}_label')} {shown}"

    if row.get("image_error"):
        return f"[{i}/{n}] {row['source_iq_id']}: no image ({row['image_error']})"
    return f"[{i}/{n}] {row['source_iq_id']}: {side('edge')} | {side('cloud')}"
