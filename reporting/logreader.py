"""The one reader of `load_test.log` (format: `edgeload.runlog`), for every scenario.

The log is streamed line by line; by default nothing keeps a Python object per request, so a
million-request throughput log reads in seconds. What is kept:
- per ramp step: counters, errors by category, and the raw latencies as float32 (4 bytes per
  request, twice when intended send times are present) so that step percentiles are exact;
- per second of the run: request and error counts and a log-spaced latency histogram (a few
  hundred counters per second), so memory for the time series grows with the run's length,
  not with its request count;
- the small records (steps, utilization samples, scenario samples by kind, lost workers,
  events, end) as they are;
- with `keep_requests=True` (scenarios with few requests: fps, the pod scenarios), every
  request's columns too, in `LogData.requests`.

A last line cut off by a crash is tolerated (reported in `LogData.truncated_tail_bytes`); a bad
line anywhere else is an error, since it means the log was damaged, not merely cut short.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeload import runlog
from edgeload.errors import ResultsError

# Per-second latency histogram: log-spaced bins, each 5% wider than the last, from 0.1 ms up
# to 1,000 s (anything above lands in the last bin). Percentiles read from it are within
# about 2.5% of the exact value: plenty for a plot; step and run figures use the raw values.
HIST_MIN_MS = 0.1
HIST_RATIO = 1.05
HIST_BINS = int(math.ceil(math.log(1e6 / HIST_MIN_MS) / math.log(HIST_RATIO))) + 1
_LOG_RATIO = math.log(HIST_RATIO)

# A log whose request times span more than this is damaged (or not one run).
MAX_RUN_SPAN_S = 14 * 24 * 3600

UNKNOWN_ERROR = "unknown"  # a failed request whose record names no category


def hist_bin_edges_ms() -> np.ndarray:
    """Lower edge of each histogram bin, in ms (bin b holds [edge[b], edge[b] * HIST_RATIO))."""
    return HIST_MIN_MS * HIST_RATIO ** np.arange(HIST_BINS)


def _hist_bins(latency_ms: np.ndarray) -> np.ndarray:
    scaled = np.log(np.maximum(latency_ms, HIST_MIN_MS) * (1.0 / HIST_MIN_MS)) * (1.0 / _LOG_RATIO)
    return np.minimum(scaled.astype(np.int64), HIST_BINS - 1)


class StepData:
    """What one step's requests add up to, with every request's columns kept (float64 start
    time, float32 latencies, bool flags: ~18 bytes a request) so that the analysis can measure
    any window of the step exactly."""

    def __init__(self, step: int) -> None:
        self.step = step
        self.requests = 0
        self.successes = 0
        self.errors: Counter[str] = Counter()
        self.first_t = math.inf
        self.last_t = -math.inf
        self.last_done_t = -math.inf  # latest answer (start + latency)
        self.max_clients = 0
        self.dropped = 0  # failures never sent (runlog.NOT_SENT_CATEGORIES): no latency
        self.has_intended = False
        self._t: list[np.ndarray] = []
        self._ok: list[np.ndarray] = []
        self._sent: list[np.ndarray] = []
        self._latency: list[np.ndarray] = []
        self._corrected: list[np.ndarray] = []

    def add(
        self,
        t: np.ndarray,
        latency_ms: np.ndarray,
        corrected_ms: np.ndarray | None,
        ok: np.ndarray,
        max_clients: int,
        sent: np.ndarray | None = None,
    ) -> None:
        """One batch's requests of this step; `sent` (bool mask, None: all) marks those that
        reached the endpoint: only they have a latency."""
        n = len(t)
        self.requests += n
        self.successes += int(np.count_nonzero(ok))
        self.first_t = min(self.first_t, float(t.min()))
        self.last_t = max(self.last_t, float(t.max()))
        self.last_done_t = max(self.last_done_t, float((t + latency_ms * 1e-3).max()))
        self.max_clients = max(self.max_clients, max_clients)
        sent = np.ones(n, dtype=bool) if sent is None else sent
        self.dropped += n - int(np.count_nonzero(sent))
        plain = latency_ms.astype(np.float32)
        if corrected_ms is not None and not self.has_intended:
            # Earlier requests of the step were not paced: their plain latency is their
            # corrected latency too (the arrays are shared, not copied).
            self.has_intended = True
            self._corrected = list(self._latency)
        self._t.append(np.asarray(t, dtype=np.float64))
        self._ok.append(np.asarray(ok, dtype=bool))
        self._sent.append(sent)
        self._latency.append(plain)
        if self.has_intended:
            self._corrected.append(
                plain if corrected_ms is None else corrected_ms.astype(np.float32)
            )

    def times(self) -> np.ndarray:
        """Start time of every request of the step (UNIX s)."""
        return _merged(self._t, np.float64)

    def ok(self) -> np.ndarray:
        return _merged(self._ok, bool)

    def sent(self) -> np.ndarray:
        """Whether each request reached the endpoint (False: an open-model drop)."""
        return _merged(self._sent, bool)

    def latencies_ms(self) -> np.ndarray:
        """Latencies of the step's sent requests (float32), from the actual send."""
        return _merged(self._latency)[self.sent()]

    def corrected_latencies_ms(self) -> np.ndarray | None:
        """Latencies from the intended send time of the sent requests, or None when no request
        carried one. Requests without an intended time (not paced) count with their plain
        latency."""
        return _merged(self._corrected)[self.sent()] if self.has_intended else None

    def all_latencies_ms(self) -> np.ndarray:
        """The latency column aligned with `times()` (meaningless where not `sent()`)."""
        return _merged(self._latency)

    def all_corrected_latencies_ms(self) -> np.ndarray | None:
        return _merged(self._corrected) if self.has_intended else None


def _merged(chunks: list[np.ndarray], dtype: type = np.float32) -> np.ndarray:
    """The chunks as one array; the list is replaced by it so that only one copy stays."""
    if not chunks:
        return np.empty(0, dtype=dtype)
    if len(chunks) > 1:
        chunks[:] = [np.concatenate(chunks)]
    return chunks[0]


class SecondSeries:
    """Per-second counters and latency histograms, keyed by absolute UNIX second."""

    def __init__(self) -> None:
        self.base: int | None = None  # UNIX second of row 0
        self.requests = np.zeros(0, dtype=np.int64)
        self.errors = np.zeros(0, dtype=np.int64)
        self.unanswered = np.zeros(0, dtype=np.int64)  # failures with no HTTP answer at all
        self.hist = np.zeros((0, HIST_BINS), dtype=np.uint32)
        self.corrected_hist: np.ndarray | None = None

    @property
    def size(self) -> int:
        return len(self.requests)

    def _ensure(self, lo: int, hi: int) -> None:
        if self.base is None:
            self.base = lo
        if lo >= self.base and hi < self.base + self.size:
            return
        end = self.base + self.size
        new_base = min(self.base, lo)
        new_end = max(end, hi + 1)
        if new_end > end:  # grow at the end geometrically: runs append seconds
            new_end = max(new_end, new_base + 2 * (end - new_base))
        if new_end - new_base > MAX_RUN_SPAN_S:
            raise ResultsError(
                f"request times span more than {MAX_RUN_SPAN_S // 86400} days: "
                "the log is damaged or holds more than one run"
            )
        offset = self.base - new_base
        size = new_end - new_base

        def grown(old: np.ndarray) -> np.ndarray:
            new = np.zeros((size, *old.shape[1:]), dtype=old.dtype)
            new[offset : offset + len(old)] = old
            return new

        self.requests = grown(self.requests)
        self.errors = grown(self.errors)
        self.unanswered = grown(self.unanswered)
        self.hist = grown(self.hist)
        if self.corrected_hist is not None:
            self.corrected_hist = grown(self.corrected_hist)
        self.base = new_base

    def add(
        self,
        t: np.ndarray,
        latency_ms: np.ndarray,
        corrected_ms: np.ndarray | None,
        ok: np.ndarray,
        sent: np.ndarray | None = None,
        unanswered: np.ndarray | None = None,
    ) -> None:
        """Count the requests per second; only those `sent` (mask, None: all) have a latency
        for the histograms; `unanswered` (mask) marks failures that got no HTTP answer."""
        sec = np.floor(t).astype(np.int64)
        lo, hi = int(sec.min()), int(sec.max())
        self._ensure(lo, hi)
        width = hi - lo + 1
        rows = slice(lo - self.base, lo - self.base + width)
        rel = sec - lo
        self.requests[rows] += np.bincount(rel, minlength=width)
        failed = ~ok
        if failed.any():
            self.errors[rows] += np.bincount(rel[failed], minlength=width)
        if unanswered is not None and unanswered.any():
            self.unanswered[rows] += np.bincount(rel[unanswered], minlength=width)
        if corrected_ms is not None and self.corrected_hist is None:
            # The first paced request: until now corrected and plain latency were the same.
            self.corrected_hist = self.hist.copy()
        flat = rel * HIST_BINS
        if sent is not None:
            flat, latency_ms = flat[sent], latency_ms[sent]
            corrected_ms = None if corrected_ms is None else corrected_ms[sent]
        self.hist[rows] += _histogram(flat, latency_ms, width)
        if self.corrected_hist is not None:
            values = latency_ms if corrected_ms is None else corrected_ms
            self.corrected_hist[rows] += _histogram(flat, values, width)


def _histogram(flat_rows: np.ndarray, latency_ms: np.ndarray, width: int) -> np.ndarray:
    counts = np.bincount(flat_rows + _hist_bins(latency_ms), minlength=width * HIST_BINS)
    return counts.reshape(width, HIST_BINS).astype(np.uint32)


@dataclass
class LogData:
    """Everything the analysis needs from one log, in compact form."""

    path: Path
    header: dict
    step_records: list[dict] = field(default_factory=list)
    steps: dict[int, StepData] = field(default_factory=dict)
    seconds: SecondSeries = field(default_factory=SecondSeries)
    utilization: list[dict] = field(default_factory=list)
    samples: dict[str, list[dict]] = field(default_factory=dict)  # kind -> records, in order
    requests: dict[str, list] | None = None  # column -> values (keep_requests=True only)
    workers_lost: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    end: dict | None = None
    request_count: int = 0
    first_t: float = math.inf  # earliest time of any timed record
    last_t: float = -math.inf  # latest time seen (answers included)
    truncated_tail_bytes: int | None = None  # size of a cut-off last line that was skipped
    unknown_records: Counter = field(default_factory=Counter)
    log_bytes: int = 0

    @property
    def has_intended(self) -> bool:
        return any(s.has_intended for s in self.steps.values())

    @property
    def scenario(self) -> str:
        return str(self.header.get("scenario"))

    def samples_of(self, kind: str) -> list[dict]:
        return self.samples.get(kind, [])


def read_header(path: str | Path) -> dict:
    """Only the header of a log (to learn its scenario before reading the rest)."""
    path = Path(path)
    with _open(path) as handle:
        return _header(path, handle.readline())


def _open(path: Path):
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such log file") from None
    except OSError as exc:
        raise ResultsError(f"{path}: cannot open the log ({exc.strerror})") from None


def _header(path: Path, first: bytes) -> dict:
    if not first.strip():
        raise ResultsError(f"{path}: the log is empty")
    try:
        header = json.loads(first)
    except (ValueError, RecursionError):
        raise ResultsError(
            f"{path}: line 1 is not a JSON header record: not an edgeload log, "
            "or the run died before writing its first line"
        ) from None
    if not isinstance(header, dict):
        raise ResultsError(f"{path}: line 1 is not a header record: not an edgeload log")
    try:
        runlog.check_header(header)
    except ResultsError as exc:
        raise ResultsError(f"{path}: {exc}") from None
    return header


def read_log(path: str | Path, *, keep_requests: bool = False) -> LogData:
    """Stream a `load_test.log` into LogData; raises ResultsError saying what is wrong.

    keep_requests: also keep every request's columns (for logs of a few thousand requests).
    """
    path = Path(path)
    with _open(path) as handle:
        header = _header(path, handle.readline())
        run = LogData(path=path, header=header, requests={} if keep_requests else None)
        reader = _RecordReader(run)
        bad: tuple[int, str, int] | None = None  # (line number, error, bytes) of a bad line
        lineno = 1
        for lineno, line in enumerate(handle, start=2):  # noqa: B007 - lineno used after
            if not line.strip():
                continue
            if bad is not None:
                raise ResultsError(
                    f"{path}: line {bad[0]} is damaged ({bad[1]}); only a cut-off last line "
                    "is tolerated, so the log was corrupted, not merely cut short"
                )
            try:
                record = json.loads(line)
            except (ValueError, RecursionError) as exc:
                bad = (lineno, _short(exc), len(line))
                continue
            reader.add(record, lineno)
        if bad is not None:
            run.truncated_tail_bytes = bad[2]
        run.log_bytes = handle.tell()
    return run


class LogFeed:
    """LogData built from records handed over one by one, as a log is being written (the live
    web UI reads a run this way): the same reader as `read_log`, without the file."""

    def __init__(self, header: dict, path: str | Path = "<live>") -> None:
        runlog.check_header(header)
        self.data = LogData(path=Path(path), header=header)
        self._reader = _RecordReader(self.data)
        self.records = 1  # the header

    def add(self, record: dict) -> None:
        """One record after the header; ResultsError as `read_log` raises for a bad one."""
        self.records += 1
        self._reader.add(record, self.records)


def _short(exc: Exception) -> str:
    return str(exc).split("\n", 1)[0][:120]


class _RecordReader:
    def __init__(self, run: LogData) -> None:
        self.run = run

    def fail(self, lineno: int, message: str) -> ResultsError:
        return ResultsError(f"{self.run.path}: line {lineno}: {message}")

    def add(self, record: object, lineno: int) -> None:
        if not isinstance(record, dict):
            raise self.fail(lineno, "not a JSON object record")
        kind = record.get("type")
        run = self.run
        if kind == runlog.REQUESTS:
            self.add_requests(record, lineno)
            return
        if kind == runlog.HEADER:
            raise self.fail(lineno, "a second header record: the file holds more than one run")
        if kind not in runlog.RECORD_TYPES:
            run.unknown_records[str(kind)] += 1
            return
        t = record.get("t")
        if not isinstance(t, int | float):
            raise self.fail(lineno, f"{kind} record without a numeric 't'")
        run.first_t = min(run.first_t, t)
        run.last_t = max(run.last_t, t)
        if kind == runlog.STEP:
            for key in ("step", "clients"):
                if not isinstance(record.get(key), int):
                    raise self.fail(lineno, f"step record without an integer {key!r}")
            run.step_records.append(record)
        elif kind == runlog.UTILIZATION:
            run.utilization.append(record)
        elif kind == runlog.SAMPLE:
            run.samples.setdefault(str(record.get("kind")), []).append(record)
        elif kind == runlog.WORKER_LOST:
            run.workers_lost.append(record)
        elif kind == runlog.EVENT:
            run.events.append(record)
        elif kind == runlog.END:
            run.end = record

    def add_requests(self, record: dict, lineno: int) -> None:
        try:
            batch = _Batch.of(record)
        except KeyError as exc:
            raise self.fail(lineno, f"requests record without the {exc.args[0]!r} column") from None
        except (TypeError, ValueError):
            raise self.fail(lineno, "a requests column holds a value of the wrong type") from None
        problem = batch.shape_problem(record)
        if problem is not None:
            raise self.fail(lineno, problem)
        n = len(batch.t)
        if n == 0:
            return
        t, latency, ok = batch.t, batch.latency, batch.ok
        corrected = None
        if batch.intended is not None:
            try:
                intended = np.asarray(batch.intended, dtype=np.float64)
            except (TypeError, ValueError):
                raise self.fail(lineno, "the intended column holds a non-number") from None
            corrected = _corrected_latency(t, latency, intended)
        failed = np.flatnonzero(~ok)
        sent, unanswered = _not_sent_and_unanswered(failed, batch.errors, n)

        run = self.run
        if run.requests is not None:
            _keep_columns(run.requests, record, n)
        run.request_count += n
        run.first_t = min(run.first_t, float(t.min()))
        run.last_t = max(run.last_t, float((t + latency * 1e-3).max()))
        run.seconds.add(t, latency, corrected, ok, sent, unanswered)
        self._add_to_steps(batch, corrected, sent)
        if len(failed):
            self._count_errors(batch, failed)

    def _add_to_steps(
        self, batch: _Batch, corrected: np.ndarray | None, sent: np.ndarray | None
    ) -> None:
        """Each step's part of the batch to its StepData (the whole batch when in one step)."""
        steps = self.run.steps
        if batch.steps is None:
            groups = [(batch.step_list[0], None)]
        else:
            groups = [(int(s), batch.steps == s) for s in np.unique(batch.steps)]
        for step, mask in groups:
            data = steps.get(step)
            if data is None:
                data = steps[step] = StepData(step)
            if mask is None:
                data.add(batch.t, batch.latency, corrected, batch.ok, batch.clients_max, sent)
            else:
                assert batch.clients is not None  # built with `steps`
                data.add(
                    batch.t[mask],
                    batch.latency[mask],
                    None if corrected is None else corrected[mask],
                    batch.ok[mask],
                    int(batch.clients[mask].max()),
                    None if sent is None else sent[mask],
                )

    def _count_errors(self, batch: _Batch, failed: np.ndarray) -> None:
        """Count each failed request under its step and error category."""
        steps, errors = self.run.steps, batch.errors
        for i in failed.tolist():
            category = errors[i] if errors is not None else None
            step = batch.step_list[0] if batch.steps is None else int(batch.steps[i])
            steps[step].errors[str(category or UNKNOWN_ERROR)] += 1


@dataclass(slots=True)
class _Batch:
    """A requests record's columns, type-checked. A batch nearly always belongs to one step:
    then `steps` and `clients` are None (no arrays built) and `clients_max` is its largest
    client count."""

    t: np.ndarray
    latency: np.ndarray
    ok: np.ndarray
    intended: list | None
    errors: list | None
    step_list: list
    client_list: list
    steps: np.ndarray | None
    clients: np.ndarray | None
    clients_max: int

    @classmethod
    def of(cls, record: dict) -> _Batch:
        """Raises KeyError for a missing column, TypeError or ValueError for a wrong value."""
        t = np.asarray(record["t"], dtype=np.float64)
        latency = np.asarray(record["latency_ms"], dtype=np.float64)
        ok_raw = np.asarray(record["ok"])
        if ok_raw.ndim != 1 or ok_raw.dtype.kind not in "bi":  # 1/0, never "yes"
            raise TypeError("ok")
        intended = record.get("intended")
        errors = record.get("error")
        if errors is not None and (
            not isinstance(errors, list) or not all(e is None or isinstance(e, str) for e in errors)
        ):
            raise TypeError("error")
        step_list = record["step"]
        client_list = record["clients"]
        one_step = bool(step_list) and step_list.count(step_list[0]) == len(step_list)
        if one_step and isinstance(step_list[0], int):
            steps = clients = None
            clients_max = max(client_list) if client_list else 0
            if not isinstance(clients_max, int):
                raise TypeError("clients")
        else:
            steps = _int_column(step_list)
            clients = _int_column(client_list)
            clients_max = 0
        ok = ok_raw.astype(bool)
        return cls(t, latency, ok, intended, errors, step_list, client_list, steps, clients,
                   clients_max)  # fmt: skip

    def shape_problem(self, record: dict) -> str | None:
        """What is wrong with the columns' shapes or values, or None."""
        t = self.t
        if t.ndim != 1:
            return "the requests column 't' is not a list"
        n = len(t)
        lengths = {len(self.latency), len(self.ok), len(self.step_list), len(self.client_list)}
        if self.intended is not None:
            lengths.add(len(self.intended))
        if self.errors is not None:
            lengths.add(len(self.errors))
        declared = record.get("n", n)
        if lengths != {n} or declared != n:
            return f"requests columns differ in length (n={declared!r})"
        if not (np.isfinite(t).all() and np.isfinite(self.latency).all()):
            return "a request time or latency is not a finite number"
        return None


def _corrected_latency(
    t: np.ndarray, latency: np.ndarray, intended: np.ndarray
) -> np.ndarray | None:
    """Latency seen by a paced client: from when it meant to send, not when it could (None:
    no request of the batch was paced). A request sent early (clock jitter) gains nothing."""
    paced = ~np.isnan(intended)
    if not paced.any():
        return None
    delay_ms = np.where(paced, np.maximum(t - intended, 0.0) * 1e3, 0.0)
    return latency + delay_ms


def _not_sent_and_unanswered(
    failed: np.ndarray, errors: list | None, n: int
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Masks of the failures never sent (open-model drops) and of those that got no HTTP
    answer; None where there are none (the common case: no mask built)."""
    sent = unanswered = None
    if len(failed) and errors is not None:
        not_sent = [
            i
            for i in failed.tolist()
            if isinstance(errors[i], str) and errors[i] in runlog.NOT_SENT_CATEGORIES
        ]
        if not_sent:
            sent = np.ones(n, dtype=bool)
            sent[not_sent] = False
        silent = [i for i in failed.tolist() if errors[i] in runlog.UNANSWERED_CATEGORIES]
        if silent:
            unanswered = np.zeros(n, dtype=bool)
            unanswered[silent] = True
    return sent, unanswered


def _keep_columns(kept: dict[str, list], record: dict, n: int) -> None:
    """Append a batch's columns to the kept per-request table (absent columns as nulls)."""
    for name in runlog.REQUEST_COLUMNS:
        values = record.get(name)
        kept.setdefault(name, []).extend(values if values is not None else [None] * n)


def _int_column(values: list) -> np.ndarray:
    """An int column; null (a request outside any step) becomes -1."""
    try:
        return np.asarray(values, dtype=np.int64)
    except TypeError:
        return np.asarray([-1 if v is None else v for v in values], dtype=np.int64)
