"""Single-client FPS test: the measurement loop and progress display.

One client submits image queries back to back: a warm-up (not measured), then each submission
is timed end to end with `time.perf_counter` around the whole call (request, edge inference,
answer parsing and the answer check are all inside; image preparation and progress output are
outside). Any failed submission, including a 200 answer that did not come from the edge, stops
the run with an error, as the seed does: a cloud answer would not measure the edge.

The edge's pipeline config is read before the warm-up, every `config_check_interval_s` during
the test (between submissions, so the check never lands inside a timed call) and after the test.
If it ever differs from the first reading, the measurement is invalid and the test stops early.

The loop fills a `Measurement` in place, so whoever holds it (the CLI on Ctrl-C, a Locust
`quitting` listener after its user greenlet was killed) can still report what was measured.
"""

from __future__ import annotations

import http.client
import math
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TextIO
from urllib.parse import urlsplit

from edgeload.errors import RunError, UsageError

COMPLETED = "completed"
FAILED = "failed"
INTERRUPTED = "interrupted"
RUNNING = "running"


class SubmitOutcome(Protocol):
    """What a submission callable returns: success, and on failure a category and a message."""

    ok: bool
    error: str | None  # error category (edgeload.runlog.ERROR_CATEGORIES) when not ok
    detail: str


@dataclass
class Outcome:
    """A plain SubmitOutcome."""

    ok: bool
    error: str | None = None
    detail: str = ""


@dataclass
class ConfigCheck:
    """One reading of the edge's pipeline config for the detector."""

    t: float  # wall-clock UNIX seconds
    phase: str  # before | during | after
    pipeline_config: str | None
    completed_iterations: int
    error: str | None = None  # the reading failed (endpoint could not tell)


@dataclass
class Measurement:
    """What one FPS test measured so far; filled in place by `measure`."""

    warmup_iterations: int
    iterations: int
    status: str = RUNNING
    warmup_completed: int = 0
    latencies_s: list[float] = field(default_factory=list)
    error: str | None = None  # "category: detail" of the submission that stopped the run
    config_checks: list[ConfigCheck] = field(default_factory=list)
    started_at: float | None = None  # wall clock, first warm-up submission
    test_started_at: float | None = None  # wall clock, first measured submission
    ended_at: float | None = None

    @property
    def config_before(self) -> str | None:
        return self.config_checks[0].pipeline_config if self.config_checks else None

    @property
    def config_changed_to(self) -> str | None:
        """The first differing config seen, or None if every successful reading matched."""
        readings = [c for c in self.config_checks if c.error is None]
        if not readings:
            return None
        first = readings[0].pipeline_config
        for check in readings[1:]:
            if check.pipeline_config != first:
                return check.pipeline_config if check.pipeline_config is not None else "<none>"
        return None

    @property
    def config_verified(self) -> bool:
        """True when the config was read successfully before and after (or at the change)."""
        ok = [c for c in self.config_checks if c.error is None and c.pipeline_config is not None]
        return len(ok) >= 2 and ok[0].phase == "before"

    @property
    def valid(self) -> bool:
        return self.config_changed_to is None

    @property
    def invalid_reason(self) -> str | None:
        changed = self.config_changed_to
        if changed is None:
            return None
        return (
            f"the pipeline config on the edge changed during the test from "
            f"{self.config_before!r} to {changed!r}"
        )


class Progress:
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


def _read_config(read_config: Callable[[], str | None], phase: str, done: int) -> ConfigCheck:
    try:
        return ConfigCheck(time.time(), phase, read_config(), done)
    except Exception as exc:  # the endpoint could not tell; recorded, not fatal
        return ConfigCheck(time.time(), phase, None, done, error=f"{type(exc).__name__}: {exc}")


def _no_payload() -> None:
    return None


def measure(
    m: Measurement,
    submit: Callable[[Any], SubmitOutcome],
    read_config: Callable[[], str | None],
    *,
    prepare: Callable[[], Any] = _no_payload,
    observer: Callable[[str, float, SubmitOutcome], None] | None = None,
    config_check_interval_s: float = 10.0,
    progress_stream: TextIO | None = None,
    label: str = "",
) -> Measurement:
    """Run the warm-up and the timed test, filling `m` as it goes. Each submission is
    `submit(prepare())`; only `submit` is timed (prepare picks the image bytes).
    `observer(phase, seconds, outcome)` sees every submission ("warmup" or "test") after it is
    timed (the locustfile feeds Locust's statistics with it).

    Returns `m` with status completed or failed; KeyboardInterrupt (and a killed greenlet) marks
    it interrupted and propagates.
    """
    prefix = f"{label} " if label else ""
    perf = time.perf_counter
    try:
        m.config_checks.append(_read_config(read_config, "before", 0))
        m.started_at = time.time()

        bar = Progress(f"{prefix}warming up", m.warmup_iterations, progress_stream)
        for i in range(m.warmup_iterations):
            payload = prepare()
            t0 = perf()
            outcome = submit(payload)
            if observer is not None:
                observer("warmup", perf() - t0, outcome)
            if not outcome.ok:
                m.error = f"{outcome.error}: {outcome.detail} (warm-up submission {i + 1})"
                m.status = FAILED
                bar.close("failed")
                return m
            m.warmup_completed = i + 1
            bar.update(i + 1)
        bar.close()

        m.test_started_at = time.time()
        bar = Progress(f"{prefix}measuring", m.iterations, progress_stream)
        next_check = time.monotonic() + config_check_interval_s
        latencies = m.latencies_s
        for i in range(m.iterations):
            payload = prepare()
            t0 = perf()
            outcome = submit(payload)
            elapsed = perf() - t0
            if observer is not None:
                observer("test", elapsed, outcome)
            if not outcome.ok:
                m.error = f"{outcome.error}: {outcome.detail} (test submission {i + 1})"
                m.status = FAILED
                bar.close("failed")
                break
            latencies.append(elapsed)
            if time.monotonic() >= next_check:
                check = _read_config(read_config, "during", len(latencies))
                m.config_checks.append(check)
                next_check = time.monotonic() + config_check_interval_s
                if not m.valid:
                    bar.close("stopped: pipeline config changed")
                    break
            bar.update(len(latencies), f"last {elapsed * 1e3:.1f} ms")
        else:
            bar.close()
        if m.valid:
            m.config_checks.append(_read_config(read_config, "after", len(latencies)))
        if m.status == RUNNING:
            m.status = COMPLETED
        return m
    except BaseException:
        # Ctrl-C, SIGTERM turned into KeyboardInterrupt, or Locust killing the greenlet
        m.status = INTERRUPTED
        raise
    finally:
        m.ended_at = time.time()


def measurement_row(m: Measurement) -> dict[str, Any]:
    """The measurement part of a result row (statistics added by the report)."""
    from edgeload.scenarios.fps.analysis import fps_statistics

    checks = [
        {
            "t": c.t,
            "phase": c.phase,
            "pipeline_config": c.pipeline_config,
            "completed_iterations": c.completed_iterations,
            "error": c.error,
        }
        for c in m.config_checks
    ]
    row: dict[str, Any] = {
        "status": m.status,
        "valid": m.valid,
        "invalid_reason": m.invalid_reason,
        "error": m.error,
        "pipeline_config": m.config_before,
        "pipeline_config_verified": m.config_verified,
        "pipeline_config_checks": checks,
        "warmup_iterations": m.warmup_iterations,
        "warmup_completed": m.warmup_completed,
        "testing_iterations": m.iterations,
        "completed_iterations": len(m.latencies_s),
        "started_at": m.started_at,
        "test_started_at": m.test_started_at,
        "ended_at": m.ended_at,
    }
    row.update(fps_statistics(m.latencies_s))
    row["latencies_ms"] = [round(s * 1e3, 4) for s in m.latencies_s]
    return row


# ---------------------------------------------------------------------------------------------
# A whole FPS run: options, provisioning per image size, result rows, the run folder.

MODES = ("BINARY", "COUNT")
CLIENTS = ("sdk", "http")
DEFAULT_WARMUP_ITERATIONS = 300
DEFAULT_ITERATIONS = 1000
RUN_DIR_SUFFIX = "-fps"


@dataclass
class FpsOptions:
    """Validated inputs of an FPS run."""

    mode: str
    image_sizes: list[tuple[int, int]]
    warmup_iterations: int = DEFAULT_WARMUP_ITERATIONS
    iterations: int = DEFAULT_ITERATIONS
    client: str = "sdk"
    detector_id: str | None = None
    output_dir: Path = Path("load_tests")
    config_check_interval_s: float = 10.0
    provision_timeout_s: float = 1800.0
    sim_profile: str = "demo"
    time_scale: float = 1.0
    ca_bundle: str | None = None

    def as_inputs(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "image_sizes": [f"{w}x{h}" for w, h in self.image_sizes],
            "warmup_iterations": self.warmup_iterations,
            "iterations": self.iterations,
            "client": self.client,
            "detector_id": self.detector_id,
            "output_dir": str(self.output_dir),
            "config_check_interval_s": self.config_check_interval_s,
            "provision_timeout_s": self.provision_timeout_s,
            "sim_profile": self.sim_profile,
            "time_scale": self.time_scale,
            "ca_bundle": self.ca_bundle,
        }


_SIZE_RE = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$")
MAX_IMAGE_SIDE = 20000


def parse_mode(text: str) -> str:
    mode = str(text).strip().upper()
    if mode not in MODES:
        raise UsageError(f"unknown detector mode {text!r}: use one of {', '.join(MODES)}")
    return mode


def parse_image_size(text: str) -> tuple[int, int]:
    """'640x480' -> (640, 480); UsageError for anything else."""
    match = _SIZE_RE.match(str(text))
    if not match:
        raise UsageError(f"bad image size {text!r}: write WIDTHxHEIGHT, e.g. 640x480")
    width, height = int(match.group(1)), int(match.group(2))
    _check_side("image width", width)
    _check_side("image height", height)
    return width, height


def _check_side(name: str, value: int) -> None:
    if not 1 <= value <= MAX_IMAGE_SIDE:
        raise UsageError(f"{name} must be between 1 and {MAX_IMAGE_SIDE} pixels, got {value}")


def parse_int(name: str, text: Any, *, minimum: int) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        raise UsageError(f"{name} must be a whole number, got {text!r}") from None
    if value < minimum:
        raise UsageError(f"{name} must be at least {minimum}, got {value}")
    return value


def parse_positive_float(name: str, text: Any) -> float:
    try:
        value = float(str(text).strip())
    except ValueError:
        raise UsageError(f"{name} must be a number, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise UsageError(f"{name} must be a positive number, got {text!r}")
    return value


def options_from_args(args: Any) -> FpsOptions:
    """FpsOptions from the CLI's (or the locustfile's) parsed options; UsageError if bad."""
    mode = parse_mode(args.mode)
    if getattr(args, "image_size", None):
        sizes = [parse_image_size(s) for s in args.image_size]
    else:
        width = parse_int("--image-width", args.image_width, minimum=1)
        height = parse_int("--image-height", args.image_height, minimum=1)
        _check_side("--image-width", width)
        _check_side("--image-height", height)
        sizes = [(width, height)]
    unique: list[tuple[int, int]] = []
    for size in sizes:
        if size not in unique:
            unique.append(size)
    client = str(args.client).strip().lower()
    if client not in CLIENTS:
        raise UsageError(f"unknown client {args.client!r}: use one of {', '.join(CLIENTS)}")
    detector_id = getattr(args, "detector_id", None) or None
    if detector_id is not None and len(unique) > 1:
        raise UsageError(
            "--detector-id names one detector, which has one image size: give a single "
            "--image-size with it"
        )
    return FpsOptions(
        mode=mode,
        image_sizes=unique,
        warmup_iterations=parse_int("--warmup-iterations", args.warmup_iterations, minimum=0),
        iterations=parse_int("--iterations", args.iterations, minimum=1),
        client=client,
        detector_id=detector_id,
        output_dir=Path(getattr(args, "output_dir", None) or "load_tests"),
        config_check_interval_s=parse_positive_float(
            "--config-check-interval", getattr(args, "config_check_interval", 10)
        ),
        provision_timeout_s=parse_positive_float(
            "--provision-timeout", getattr(args, "provision_timeout", 1800)
        ),
        sim_profile=str(getattr(args, "sim_profile", None) or "demo"),
        time_scale=parse_positive_float("--sim-time-scale", getattr(args, "time_scale", 1)),
        ca_bundle=parse_ca_bundle(getattr(args, "ca_bundle", None)),
    )


def parse_ca_bundle(text: Any) -> str | None:
    """The --ca-bundle path, checked to be a file (its contents are checked with the target)."""
    if text is None or not str(text).strip():
        return None
    path = str(text).strip()
    if not Path(path).is_file():
        raise UsageError(f"--ca-bundle {path!r} is not a file: give a PEM file of CAs")
    return path


def make_run_dir(output_dir: Path, now: datetime | None = None) -> Path:
    """A new folder output_dir/<UTC timestamp>-fps/ (never an existing one)."""
    now = now or datetime.now(UTC)
    stamp = now.strftime("%Y-%m-%dT%H-%M-%SZ")
    output_dir.mkdir(parents=True, exist_ok=True)
    for attempt in range(1000):
        name = f"{stamp}{RUN_DIR_SUFFIX}" + (f"-{attempt}" if attempt else "")
        path = output_dir / name
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RunError(f"cannot create a new run folder in {output_dir}")


class FpsSession:
    """One FPS run against one target: provisions and measures each image size in turn and
    keeps the rows; `finish()` writes the run folder. Used by the CLI and the locustfile."""

    def __init__(
        self,
        options: FpsOptions,
        target: Any,
        *,
        out: TextIO | None = None,
        progress_stream: TextIO | None = None,
        submitter_factory: Callable[..., Submitter] | None = None,
        observer_factory: Callable[[str], Callable[[str, float, Any], None]] | None = None,
    ) -> None:
        self.options = options
        self.target = target
        self.out = out if out is not None else sys.stdout
        self.progress_stream = progress_stream
        self.submitter_factory = submitter_factory or default_submitter
        # image size "WxH" -> observer of every submission (see `measure`)
        self.observer_factory = observer_factory
        self.created_at = _iso_now()
        self.rows: list[dict[str, Any]] = []
        self.current: tuple[dict[str, Any], Measurement] | None = None
        self.run_dir: Path | None = None
        self.metadata: dict[str, Any] = {}
        self.error: str | None = None  # what stopped the run outside a measurement
        self._gl = None

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    @property
    def gl(self):
        if self._gl is None:
            from edgeload.target import make_sdk

            self._gl = make_sdk(self.target, retries=False)
        return self._gl

    def start(self) -> Path:
        """Create the run folder and collect metadata (before any load)."""
        from edgeload.metadata import collect_metadata

        self.run_dir = make_run_dir(self.options.output_dir)
        self.metadata = collect_metadata(self.target)
        return self.run_dir

    def run_size(self, size: tuple[int, int]) -> dict[str, Any]:
        """Provision, warm up and measure one image size; the row is kept and returned."""
        from edgeload.provisioning import fetch_endpoint_images, fetch_pipeline_config
        from edgeload.scenarios.fps.analysis import format_row, histogram_filename

        width, height = size
        image_size = f"{width}x{height}"
        self.say(f"[{image_size}] provisioning a {self.options.mode} detector")
        detector = provision_for_size(self, size)
        self.say(
            f"[{image_size}] detector {detector.id} ({detector.name!r}) served by the edge "
            f"with pipeline config {detector.pipeline_config!r}"
        )
        prepare, submit = self.submitter_factory(self, detector, size)
        header: dict[str, Any] = {
            "image_size": image_size,
            "image_width": width,
            "image_height": height,
            "test_timestamp": None,
            "edge_endpoint_image": None,
            "inference_server_image": None,
            "detector_id": detector.id,
            "detector_name": detector.name,
            "detector_query": detector.query,
            "detector_mode": self.options.mode,
            "expected_pipeline_config": detector.pipeline_config,
            "endpoint": self.target.url,
            "client": self.options.client,
            "histogram": histogram_filename(image_size),
        }
        measurement = Measurement(self.options.warmup_iterations, self.options.iterations)
        self.current = (header, measurement)
        target, detector_id = self.target, detector.id
        try:
            measure(
                measurement,
                submit,
                lambda: fetch_pipeline_config(target, detector_id),
                prepare=prepare,
                observer=self.observer_factory(image_size) if self.observer_factory else None,
                config_check_interval_s=self.options.config_check_interval_s,
                progress_stream=self.progress_stream,
                label=f"[{image_size}]",
            )
        finally:
            getattr(submit, "close", lambda: None)()
        images = {}
        try:
            images = fetch_endpoint_images(self.target) or {}
        except Exception as exc:  # best effort: the images are metadata, not the result
            self.say(f"[{image_size}] could not read the endpoint's images: {exc}")
        header["edge_endpoint_image"] = images.get("edge_endpoint")
        header["inference_server_image"] = images.get("inference_server")
        row = self._close_current()
        self.say(format_row(row))
        self.write(interrupted=False)  # so a later Ctrl-C never loses this row
        return row

    def _close_current(self) -> dict[str, Any]:
        assert self.current is not None
        header, measurement = self.current
        self.current = None
        row = dict(header)
        row["test_timestamp"] = _iso_now()
        row.update(measurement_row(measurement))
        self.rows.append(row)
        return row

    def results(self, *, interrupted: bool) -> dict[str, Any]:
        from edgeload.scenarios.fps.analysis import build_results

        return build_results(
            rows=self.rows,
            inputs=self.options.as_inputs(),
            target=self.target.as_record(),
            metadata=self.metadata,
            created_at=self.created_at,
            interrupted=interrupted,
            tool_version=_tool_version(),
            error=self.error,
        )

    def write(self, *, interrupted: bool) -> dict[str, Any]:
        """(Re)write the result JSON and the histograms of all rows so far."""
        from edgeload.scenarios.fps.analysis import write_histogram, write_results

        if self.run_dir is None:
            self.run_dir = make_run_dir(self.options.output_dir)
        results = self.results(interrupted=interrupted)
        write_results(self.run_dir, results)
        for row in self.rows:
            if not (self.run_dir / row["histogram"]).exists() or row is self.rows[-1]:
                write_histogram(self.run_dir, row)
        return results

    def finish(self, *, interrupted: bool) -> dict[str, Any]:
        """Keep a measurement cut short, write everything, print the summary."""
        from edgeload.scenarios.fps.analysis import (
            RESULTS_FILENAME,
            format_row,
            format_summary_table,
        )

        if self.current is not None:
            _, measurement = self.current
            if measurement.status == RUNNING:
                measurement.status = INTERRUPTED
            self.say(format_row(self._close_current()))
        results = self.write(interrupted=interrupted)
        if len(self.rows) > 1:
            self.say(format_summary_table(self.rows))
        self.say(f"status: {results['status']}")
        self.say(f"results: {self.run_dir / RESULTS_FILENAME}")
        return results


def provision_for_size(session: FpsSession, size: tuple[int, int]) -> Any:
    from edgeload.provisioning import provision_detector

    simulated = getattr(session.target, "sim", None) is not None
    return provision_detector(
        session.gl,
        mode=session.options.mode,
        image_size=size,
        detector_id=session.options.detector_id,
        timeout_s=session.options.provision_timeout_s,
        progress=session.say,
        target=session.target,
        # an embedded simulator answers status polls in microseconds: poll it often
        poll_s=0.25 if simulated else 2.0,
    )


Submitter = tuple[Callable[[], Any], Callable[[Any], SubmitOutcome]]  # (prepare, submit)


def default_submitter(session: FpsSession, detector: Any, size: tuple[int, int]) -> Submitter:
    """(prepare, submit) for the chosen client: `prepare` takes the next pre-generated image
    (unique bytes, untimed); `submit` sends it and checks the answer (timed)."""
    from edgeload.clients import submit_sdk
    from edgeload.images import ImagePool

    pool = ImagePool(session.options.mode, size[0], size[1])

    def prepare() -> bytes:
        return pool.next()[0]

    if session.options.client == "http":
        return prepare, HttpSubmitter(session.target, detector.id)
    gl, detector_id = session.gl, detector.id
    return prepare, lambda jpeg: submit_sdk(gl, detector_id, jpeg)


class HttpSubmitter:
    """The SDK's image-query POST (`edgeload.clients.EdgeRequest`) sent over one kept-alive
    standard-library connection, so the CLI needs no Locust and the locustfile measures the
    same client. A dropped connection is reopened on the next submission, never retried."""

    def __init__(self, target: Any, detector_id: str, timeout_s: float | None = None) -> None:
        from edgeload.clients import REQUEST_TIMEOUT_S, EdgeRequest

        self.detector_id = detector_id
        self.request = EdgeRequest(detector_id, target.token)
        root = urlsplit(target.root_url)
        self.https = root.scheme == "https"
        self.host = root.hostname or "127.0.0.1"
        self.port = root.port
        self.path = root.path.rstrip("/") + self.request.path
        self.ssl_context = target.ssl_context()
        self.timeout_s = timeout_s if timeout_s is not None else REQUEST_TIMEOUT_S
        self.connection: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self.https:
            return http.client.HTTPSConnection(
                self.host, self.port, timeout=self.timeout_s, context=self.ssl_context
            )
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            connection.close()

    def __call__(self, jpeg: bytes) -> SubmitOutcome:
        from edgeload.clients import check_http_answer, classify_exception

        try:
            if self.connection is None:
                self.connection = self._connect()
            self.connection.request("POST", self.path, body=jpeg, headers=self.request.headers)
            response = self.connection.getresponse()
            body = response.read()
            if response.will_close:
                self.close()
        except Exception as exc:  # no usable answer: categorised, and a fresh connection next
            self.close()
            return classify_exception(exc)
        return check_http_answer(response.status, body, self.detector_id)


def exit_message(results: dict[str, Any], results_path: Path) -> tuple[int, str | None]:
    """Exit code and the one-line reason for a finished run."""
    status = results["status"]
    if status == "completed":
        return 0, None
    if status == "interrupted":
        return 130, f"interrupted; partial results in {results_path}"
    reasons = [
        f"{r['image_size']}: {r.get('invalid_reason') or r.get('error')}"
        for r in results["rows"]
        if r.get("valid") is False or r.get("status") == "failed"
    ]
    if results.get("error"):
        reasons.append(results["error"])
    word = "invalid" if status == "invalid" else "failed"
    return 1, f"run {word} ({'; '.join(reasons)}); results in {results_path}"


def run_fps_command(
    options: FpsOptions,
    *,
    out: TextIO | None = None,
    progress_stream: TextIO | None = None,
    target: Any = None,
    submitter_factory: Callable[..., Submitter] | None = None,
) -> int:
    """The CLI's whole run: target, each size, results; returns the exit code (raises
    RunError for an invalid or failed run after writing its results)."""
    from edgeload.runfolder import check_output_dir
    from edgeload.scenarios.fps.analysis import RESULTS_FILENAME
    from edgeload.target import resolve_target, validate_target_environment

    out = out if out is not None else sys.stdout
    own_target = target is None
    if own_target:
        validate_target_environment()
        check_output_dir(options.output_dir)  # before a simulator or a request
        target = resolve_target(
            profile=options.sim_profile, time_scale=options.time_scale, ca_bundle=options.ca_bundle
        )
    session = FpsSession(
        options,
        target,
        out=out,
        progress_stream=progress_stream,
        submitter_factory=submitter_factory,
    )
    interrupted = False
    try:
        session.say(target.describe())
        session.start()
        session.say(f"run folder: {session.run_dir}")
        for size in options.image_sizes:
            session.run_size(size)
    except KeyboardInterrupt:
        interrupted = True
    except Exception as exc:  # provisioning failed, endpoint died...: keep what was measured
        session.error = str(exc) if isinstance(exc, UsageError | RunError) else repr(exc)
        raise
    finally:
        try:
            results = session.finish(interrupted=interrupted)
        finally:
            if own_target:
                target.close()
    assert session.run_dir is not None
    code, message = exit_message(results, session.run_dir / RESULTS_FILENAME)
    if code == 1:
        raise RunError(message)
    if message:
        print(f"edgeload fps: {message}", file=sys.stderr)
    return code


def _iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _tool_version() -> str | None:
    from importlib import metadata

    try:
        return metadata.version("edgeload")
    except metadata.PackageNotFoundError:
        return None
