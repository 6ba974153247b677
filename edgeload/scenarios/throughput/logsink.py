"""The throughput run's log sink: Locust request events into `load_test.log`, distributed too.

The record format is `edgeload.runlog`. Three roles, picked from the Locust runner:

    local   (LocalRunner)  request events are buffered and written as `requests` batches every
                           `batch_size` records or every `flush_interval_s` seconds.
    worker  (WorkerRunner) request events and utilization samples are buffered and ride on
                           Locust's own stats report (`report_to_master`, every 3 s and once
                           more when the worker quits): the batch is taken in the same
                           listener call that serialises Locust's stats, so the log counts
                           exactly the requests Locust counts.
    master  (MasterRunner) batches arriving with `worker_report` are written as they come;
                           a worker that goes missing gets a `worker_lost` record with the
                           requests it made that never arrived (estimated from its progress
                           messages and its request rate).

The request listener is the hot path: it appends one tuple to a list and, every
`batch_size` records, hands the list over; columns are built and encoded off that path.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gevent

from edgeload import runlog
from edgeload.errors import OutputError
from edgeload.runlog import LogWriter

logger = logging.getLogger(__name__)

REPORT_KEY = "edgeload"  # key of our payload in Locust's worker report
PROGRESS_MESSAGE = "edgeload_progress"  # custom message: a worker's running request count
# Progress every quarter second: a killed worker's unreceived requests are then known up to
# at most this long before it died, and only that last bit is estimated from its rate.
PROGRESS_INTERVAL_S = 0.25
PROGRESS_RATE_WINDOW = 8  # progress messages the request rate is measured over (~2 s)
HEARTBEAT_INTERVAL_S = 1.0  # locust.runners.HEARTBEAT_INTERVAL: workers beat once a second
_NO_CONTEXT: dict = {}


def rows_to_batch(rows: list[tuple], worker: str) -> dict:
    """A `requests` record from request tuples ordered as runlog.REQUEST_COLUMNS."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(runlog.REQUEST_COLUMNS)
    batch: dict[str, Any] = {"type": runlog.REQUESTS, "worker": worker, "n": len(rows)}
    for name, column in zip(runlog.REQUEST_COLUMNS, columns, strict=True):
        batch[name] = list(column)
    # microsecond precision is plenty for a latency and keeps the log small
    batch["latency_ms"] = [round(x, 3) for x in batch["latency_ms"]]
    return batch


@dataclass
class WorkerAccount:
    """What the master knows of one worker's requests, to estimate what a lost worker lost."""

    received: int = 0  # requests that reached the log
    reported_total: int = 0  # the worker's own running count, from its progress messages
    reported_at: float = 0.0
    last_report_at: float = 0.0
    rate: float = 0.0  # requests/s over the last report interval
    last_heartbeat: float = 0.0
    lost: bool = False
    progress: list[tuple[float, int]] = field(default_factory=list)  # (arrival, total)

    def progress_rate(self) -> float:
        """Requests/s over the last few progress messages (the report's rate without them)."""
        if len(self.progress) >= 2:
            (t0, n0), (t1, n1) = self.progress[0], self.progress[-1]
            if t1 - t0 > 0.1:
                return max(0.0, (n1 - n0) / (t1 - t0))
        return self.rate


class LogSink:
    """Collects request records (and utilization samples) and writes or forwards them."""

    def __init__(
        self,
        environment: Any,
        writer: LogWriter | None = None,
        *,
        batch_size: int = 5000,
        flush_interval_s: float = 1.0,
        role: str | None = None,
        on_batch: Callable[[dict], None] | None = None,
        on_record: Callable[[dict], None] | None = None,
        on_write_error: Callable[[OutputError], None] | None = None,
    ) -> None:
        from locust.runners import MasterRunner, WorkerRunner

        self.environment = environment
        self.writer = writer
        self.on_batch = on_batch  # sees every requests batch written (the live monitor)
        self.on_record = on_record  # sees every record written, header first (the live web UI)
        self.on_write_error = on_write_error  # the log cannot be written any more
        self.write_error: OutputError | None = None
        self.run_id: str | None = None  # master: only this run's records reach the log
        self.foreign_requests = 0  # master: records of other runs, dropped
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        runner = environment.runner
        if role is not None:  # tests, or a runner of another kind
            self.role = role
        elif isinstance(runner, WorkerRunner):
            self.role = "worker"
        elif isinstance(runner, MasterRunner):
            self.role = "master"
        else:
            self.role = "local"
        self.worker_id = "local" if self.role == "local" else getattr(runner, "client_id", "?")
        self.hostname = socket.gethostname()
        self._rows: list[tuple] = []
        self._pending_utilization: list[dict] = []  # worker: samples waiting for the next report
        self.requests_recorded = 0  # requests this process wrote or sent on
        self.workers: dict[str, WorkerAccount] = {}
        self._greenlets: list[gevent.Greenlet] = []
        self._listeners: list[tuple[Any, Callable]] = []
        self.closed = False

    # -- registration -------------------------------------------------------------------
    def register(self) -> LogSink:
        """Attach to the environment's events; start the flusher or the worker watcher."""
        events = self.environment.events
        if self.role in ("local", "worker"):
            self._listen(events.request, self.on_request)
        if self.role == "worker":
            self._listen(events.report_to_master, self.on_report_to_master)
            self._greenlets.append(gevent.spawn(self._progress_loop))
        if self.role == "master":
            self._listen(events.worker_report, self.on_worker_report)
            self._listen(events.heartbeat_sent, self.on_worker_heartbeat)
            runner = self.environment.runner
            if PROGRESS_MESSAGE not in runner.custom_messages:
                runner.register_message(PROGRESS_MESSAGE, self.on_progress_message)
            self._greenlets.append(gevent.spawn(self._watch_workers_loop))
        if self.role in ("local", "master"):
            self._greenlets.append(gevent.spawn(self._flush_loop))
        return self

    def _listen(self, hook: Any, listener: Callable) -> None:
        hook.add_listener(listener)
        self._listeners.append((hook, listener))

    # -- hot path -----------------------------------------------------------------------
    def on_request(
        self,
        start_time: float | None = None,
        response_time: float | None = None,
        exception: Any = None,
        context: dict | None = None,
        response: Any = None,
        **_kwargs: Any,
    ) -> None:
        ctx = context or _NO_CONTEXT
        if exception is None:
            ok, error = 1, None
        else:
            ok, error = 0, ctx.get("error") or "client"
        status = ctx.get("status")
        if status is None:
            status = getattr(response, "status_code", 0) or 0
        self._rows.append(
            (
                start_time if start_time is not None else time.time(),
                ctx.get("intended"),
                response_time or 0.0,
                ok,
                status,
                error,
                ctx.get("detector"),
                ctx.get("clients"),
                ctx.get("step"),
            )
        )
        if self.role == "local" and len(self._rows) >= self.batch_size:
            self._guarded(self._write_rows)

    # -- local / master writing ------------------------------------------------------------
    def _write_rows(self) -> None:
        rows, self._rows = self._rows, []
        if rows and self.writer is not None and not self.writer.closed:
            batch = rows_to_batch(rows, self.worker_id)
            self.writer.write(batch)
            self.requests_recorded += len(rows)
            self._seen(batch)
            self._recorded(batch)

    def _flush_loop(self) -> None:
        while not self.closed:
            gevent.sleep(self.flush_interval_s)
            self.flush()

    def flush(self) -> None:
        """Write buffered requests now and push them to disk."""
        if self.role == "local":
            self._guarded(self._write_rows)
        if self.writer is not None:
            self._guarded(self.writer.flush)

    def _guarded(self, write: Callable[..., None], *args: Any) -> None:
        """A write that may fail (disk full, read-only): the first failure is kept and handed
        to `on_write_error` once; the writer is closed by then, so what reached the disk stays
        a readable log, and later writes are skipped."""
        if self.write_error is not None:
            return
        try:
            write(*args)
        except OutputError as exc:
            self.write_error = exc
            if self.on_write_error is not None:
                self.on_write_error(exc)

    def _seen(self, batch: dict) -> None:
        if self.on_batch is not None:
            try:
                self.on_batch(batch)
            except Exception:  # a live preview must never cost a record
                logger.debug("the live monitor failed on a batch", exc_info=True)

    def _recorded(self, record: dict) -> None:
        if self.on_record is not None:
            try:
                self.on_record(record)
            except Exception:  # a live view must never cost a record
                logger.debug("a record listener failed", exc_info=True)

    def write(self, record: dict) -> None:
        """Write one record (header, step, event, a worker's batch, ...) on a writing process."""
        if self.writer is not None and not self.writer.closed:
            self._guarded(self.writer.write, record)
            if self.write_error is None:
                self._recorded(record)

    def add_utilization(self, sample: dict) -> None:
        """A utilization record: written here, or sent to the master with the next report."""
        record = {"type": runlog.UTILIZATION, "t": time.time(), **sample}
        if self.role == "worker":
            self._pending_utilization.append(record)
        else:
            self.write(record)

    # -- worker side ---------------------------------------------------------------------
    def on_report_to_master(self, client_id: str = "", data: dict | None = None, **_: Any) -> None:
        if data is None:
            return
        rows, self._rows = self._rows, []
        samples, self._pending_utilization = self._pending_utilization, []
        self.requests_recorded += len(rows)
        data[REPORT_KEY] = {
            # the run these records belong to: a master drops another run's records
            "run_id": getattr(self.environment.parsed_options, "edgeload_run_id", None),
            "requests": rows_to_batch(rows, client_id or self.worker_id) if rows else None,
            "utilization": samples,
            "total": self.requests_recorded,
        }

    def requests_made(self) -> int:
        """Requests this worker completed so far (sent on or still buffered)."""
        return self.requests_recorded + len(self._rows)

    def _progress_loop(self) -> None:
        runner = self.environment.runner
        while not self.closed:
            gevent.sleep(PROGRESS_INTERVAL_S)
            try:
                runner.send_message(
                    PROGRESS_MESSAGE, {"total": self.requests_made(), "t": time.time()}
                )
            except Exception:  # the master is gone; Locust itself handles that
                logger.debug("could not send progress to the master", exc_info=True)

    # -- master side ---------------------------------------------------------------------
    def _account(self, client_id: str) -> WorkerAccount:
        account = self.workers.get(client_id)
        if account is None:
            account = self.workers[client_id] = WorkerAccount()
        return account

    def on_worker_report(self, client_id: str = "", data: dict | None = None, **_: Any) -> None:
        payload = (data or {}).get(REPORT_KEY)
        if not payload:
            return
        if payload.get("run_id") != self.run_id:
            self._foreign_report(client_id, payload)
            return
        account = self._account(client_id)
        now = time.time()
        batch = payload.get("requests")
        n = batch["n"] if batch else 0
        if batch:
            batch["worker"] = client_id
            self.write(batch)
            self.requests_recorded += n
            self._seen(batch)
        account.received += n
        if account.last_report_at:
            account.rate = n / max(1e-3, now - account.last_report_at)
        account.last_report_at = now
        account.reported_total = max(account.reported_total, int(payload.get("total", 0)))
        for sample in payload.get("utilization") or ():
            self.write(sample)

    def _foreign_report(self, client_id: str, payload: dict) -> None:
        batch = payload.get("requests")
        if not batch:
            return
        if not self.foreign_requests:
            logger.warning(
                "worker %s sent records of another run (%s); they are dropped, not logged",
                client_id,
                payload.get("run_id"),
            )
        self.foreign_requests += int(batch.get("n", 0))

    def on_progress_message(self, environment: Any = None, msg: Any = None, **_: Any) -> None:
        if msg is None or not isinstance(msg.data, dict):
            return
        account = self._account(msg.node_id)
        total = int(msg.data.get("total", 0))
        account.reported_total = max(account.reported_total, total)
        account.reported_at = time.time()
        account.progress.append((account.reported_at, total))
        del account.progress[:-PROGRESS_RATE_WINDOW]

    def on_worker_heartbeat(self, client_id: str = "", timestamp: float = 0.0, **_: Any) -> None:
        self._account(client_id).last_heartbeat = timestamp or time.time()

    def _watch_workers_loop(self) -> None:
        while not self.closed:
            gevent.sleep(1.0)
            self.check_workers()

    def check_workers(self) -> None:
        """Record a `worker_lost` for each worker Locust now considers missing."""
        from locust.runners import STATE_MISSING

        clients = self.environment.runner.clients
        for client_id, account in self.workers.items():
            if account.lost:
                continue
            node = clients.get(client_id)
            if node is not None and node.state == STATE_MISSING:
                self.record_worker_lost(client_id)

    def record_worker_lost(self, client_id: str) -> None:
        account = self._account(client_id)
        account.lost = True
        known = max(0, account.reported_total - account.received)
        # After its last count it kept going at about its recent rate until it died: after
        # the last message that came from it, before the next progress message or heartbeat
        # was due; the middle of that window is the estimate.
        since = max(account.reported_at, account.last_report_at)
        last_seen = max(since, account.last_heartbeat)
        due = [account.last_heartbeat + HEARTBEAT_INTERVAL_S] if account.last_heartbeat else []
        if account.reported_at:
            due.append(account.reported_at + PROGRESS_INTERVAL_S)
        if not due:
            died_at = last_seen
        elif min(due) < last_seen:  # its progress stalled while it still beat: no bound
            died_at = last_seen + HEARTBEAT_INTERVAL_S / 2
        else:
            died_at = (last_seen + min(due)) / 2
        extra = account.progress_rate() * max(0.0, died_at - since) if since else 0.0
        unreceived = known + int(round(extra))
        self.write(
            {
                "type": runlog.WORKER_LOST,
                "t": time.time(),
                "worker": client_id,
                "unreceived_requests": unreceived,
                "estimated": True,
                "detail": (
                    f"{known} requests it counted were never received; about {int(round(extra))} "
                    "more estimated from its request rate until its last heartbeat"
                ),
            }
        )
        logger.warning(
            "worker %s is lost; about %d of its requests never reached the log",
            client_id,
            unreceived,
        )

    # -- end -----------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop the background greenlets and detach the listeners (buffers are kept)."""
        self.closed = True
        for greenlet in self._greenlets:
            greenlet.kill(block=False)
        self._greenlets.clear()
        for hook, listener in self._listeners:
            try:
                hook.remove_listener(listener)
            except ValueError:
                pass
        self._listeners.clear()

    def close(self, final_records: tuple[dict, ...] | list[dict] = ()) -> None:
        """Write what is buffered (local), then `final_records`, and close the file. Idempotent."""
        self.stop()
        if self.role == "local":
            self._guarded(self._write_rows)
        for record in final_records:
            self.write(record)
        if self.writer is not None:
            self._guarded(self.writer.close)
