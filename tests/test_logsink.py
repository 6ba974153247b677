"""The log sink: synthetic request events fired into a real locust Environment."""

import json
from types import SimpleNamespace

import gevent
import pytest
from locust import User  # noqa: F401  (locust is imported, as in a run)
from locust.env import Environment
from locust.event import Events

from edgeload import runlog
from edgeload.scenarios.throughput.logsink import REPORT_KEY, LogSink, LogWriter, rows_to_batch


class NoUser(User):
    abstract = True


def read_log(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def fire(env, i, *, error=None, status=200):
    env.events.request.fire(
        request_type="POST",
        name="image-query",
        response_time=1.5 + i,
        response_length=0,
        response=None,
        exception=RuntimeError(error) if error else None,
        context={
            "intended": 1000.0 + i,
            "detector": "det_x",
            "step": 0,
            "clients": 1,
            "status": status,
            "error": error,
        },
        start_time=1000.5 + i,
    )


@pytest.fixture
def env():
    environment = Environment(user_classes=[NoUser], events=Events())
    environment.create_local_runner()
    yield environment
    environment.runner.quit()


def test_local_sink_writes_full_batches_then_the_rest_on_close(env, tmp_path):
    path = tmp_path / "load_test.log"
    sink = LogSink(env, LogWriter(path), batch_size=100, flush_interval_s=60).register()
    assert sink.role == "local"
    for i in range(250):
        fire(env, i, error="http_503" if i % 10 == 0 else None, status=503 if i % 10 == 0 else 200)
    sink.writer.flush()  # to disk, without writing the partial batch
    batches = [r for r in read_log(path) if r["type"] == runlog.REQUESTS]
    assert [b["n"] for b in batches] == [100, 100]
    end = {
        "type": runlog.END,
        "t": 1.0,
        "status": "completed",
        "reason": "",
        "locust_request_count": 250,
    }
    sink.close([end])
    records = read_log(path)
    batches = [r for r in records if r["type"] == runlog.REQUESTS]
    assert [b["n"] for b in batches] == [100, 100, 50]
    assert records[-1] == end  # the end record comes after the last requests
    first = batches[0]
    for column in runlog.REQUEST_COLUMNS:
        assert len(first[column]) == 100
    assert first["worker"] == "local"
    assert first["t"][:2] == [1000.5, 1001.5] and first["intended"][:2] == [1000.0, 1001.0]
    assert first["latency_ms"][:2] == [1.5, 2.5]
    assert first["ok"][:2] == [0, 1] and first["error"][:2] == ["http_503", None]
    assert first["status"][:2] == [503, 200] and set(first["detector"]) == {"det_x"}
    # nothing lost, nothing doubled: the log counts what Locust counts
    assert sum(b["n"] for b in batches) == env.stats.total.num_requests == 250
    assert sum(sum(b["ok"]) for b in batches) == 250 - env.stats.total.num_failures
    # closed: further events are not recorded and do not fail
    fire(env, 999)
    assert sink.requests_recorded == 250


def test_local_sink_flushes_on_its_interval(env, tmp_path):
    path = tmp_path / "load_test.log"
    sink = LogSink(env, LogWriter(path), batch_size=10_000, flush_interval_s=0.05).register()
    for i in range(3):
        fire(env, i)
    assert read_log(path) == []  # buffered
    gevent.sleep(0.2)
    batches = read_log(path)
    assert [b["n"] for b in batches] == [3]
    sink.close()
    assert sink.writer.closed
    sink.close()  # idempotent


def test_a_failure_without_a_category_is_a_client_error(env, tmp_path):
    sink = LogSink(env, LogWriter(tmp_path / "l.log")).register()
    env.events.request.fire(
        request_type="GET",
        name="x",
        response_time=1.0,
        response_length=0,
        exception=ValueError("boom"),
        context={},
        start_time=5.0,
    )
    sink.close()
    batch = read_log(tmp_path / "l.log")[0]
    assert batch["error"] == ["client"] and batch["ok"] == [0] and batch["status"] == [0]
    assert batch["intended"] == [None] and batch["step"] == [None]


def test_worker_batch_rides_on_the_stats_report_and_master_writes_it(env, tmp_path):
    worker = LogSink(env, role="worker")
    env.events.request.add_listener(worker.on_request)
    env.events.report_to_master.add_listener(worker.on_report_to_master)
    for i in range(7):
        fire(env, i)
    worker.add_utilization({"type": "utilization", "t": 3.0, "source": "generator", "host": "h"})
    data = {}
    env.events.report_to_master.fire(client_id="worker-1", data=data)
    payload = data[REPORT_KEY]
    assert payload["requests"]["n"] == 7 and payload["total"] == 7
    assert payload["utilization"][0]["host"] == "h"
    data2 = {}
    env.events.report_to_master.fire(client_id="worker-1", data=data2)
    assert data2[REPORT_KEY]["requests"] is None  # nothing sent twice

    path = tmp_path / "master.log"
    master_env = SimpleNamespace(runner=SimpleNamespace(clients={}), events=Events())
    master = LogSink(master_env, LogWriter(path), role="master")
    master.on_worker_report(client_id="worker-1", data=data)
    master.on_worker_report(client_id="worker-1", data=data2)
    master.close()
    records = read_log(path)
    assert [r["type"] for r in records] == ["requests", "utilization"]
    assert records[0]["worker"] == "worker-1" and records[0]["n"] == 7
    assert master.workers["worker-1"].received == 7


def test_master_records_a_lost_worker_with_its_unreceived_requests(tmp_path):
    from locust.runners import STATE_MISSING, STATE_RUNNING

    node = SimpleNamespace(state=STATE_RUNNING)
    master_env = SimpleNamespace(runner=SimpleNamespace(clients={"w": node}), events=Events())
    path = tmp_path / "master.log"
    master = LogSink(master_env, LogWriter(path), role="master")
    batch = rows_to_batch([(1.0, None, 2.0, 1, 200, None, "det", 1, 0)] * 40, "w")
    master.on_worker_report(client_id="w", data={REPORT_KEY: {"requests": batch, "total": 40}})
    # its progress message says 55 made; then heartbeats go on for 2 s more, then stop
    msg = SimpleNamespace(node_id="w", data={"total": 55, "t": 0})
    master.on_progress_message(msg=msg)
    account = master.workers["w"]
    account.rate = 10.0
    account.last_heartbeat = max(account.reported_at, account.last_report_at) + 2.0
    master.check_workers()
    assert not account.lost
    node.state = STATE_MISSING
    master.check_workers()
    master.check_workers()  # recorded once
    master.close()
    lost = [r for r in read_log(path) if r["type"] == runlog.WORKER_LOST]
    assert len(lost) == 1
    assert lost[0]["worker"] == "w" and lost[0]["estimated"] is True
    # 15 it counted + 10/s for 2.5 s (2 s of heartbeats, then on average half an interval)
    assert lost[0]["unreceived_requests"] == 15 + 25


def test_rows_to_batch_of_nothing_is_an_empty_batch():
    batch = rows_to_batch([], "local")
    assert batch["n"] == 0 and all(batch[c] == [] for c in runlog.REQUEST_COLUMNS)
