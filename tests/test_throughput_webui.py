"""The throughput locustfile in Locust's web UI: the ramp options are in the start form, a
ramp started from the form runs with the form's values and leaves a full run folder, and the
edgeload tab and live page show the ramp as it runs (JSON route, Locust's extended tab and
CSV, a real browser)."""

import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import chromium
import pytest
from test_throughput_run import ARTIFACTS, FAST_SIM, LOCUSTFILE, SMALL, child_env

from edgeload import runlog


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read().decode()
    except OSError:
        return None


def test_web_ui_form_shows_the_ramp_options_and_runs_the_ramp(tmp_path: Path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--web-host", "127.0.0.1"]
    command += ["--web-port", str(port), "--output-dir", str(tmp_path), *FAST_SIM, *SMALL]
    log = open(tmp_path / "locust.out", "w")
    proc = subprocess.Popen(command, env=child_env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        page = wait_for(lambda: get(base + "/"), 90, "the web UI")
        for option in ("max_clients", "step_size", "time_between_ramp", "requests_per_second"):
            assert re.search(rf'"{option}"', page), f"{option} missing from the start form"

        form = {"user_count": "1", "spawn_rate": "1", "host": base, "max_clients": "2"}
        form |= {"step_size": "1", "time_between_ramp": "2", "requests_per_second": "5"}
        request = urllib.request.Request(
            base + "/swarm", data=urllib.parse.urlencode(form).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["success"] is True

        def results():
            found = list(tmp_path.glob("*/load_test_results.json"))
            return found[0] if found else None

        results_path = wait_for(results, 60, "the run's results")
        run_dir = results_path.parent
        wait_for(lambda: all((run_dir / name).exists() for name in ARTIFACTS), 20, "plots")
        results = json.loads(results_path.read_text())
        assert results["inputs"]["max_clients"] == 2  # the form's value, not the default 10
        assert results["inputs"]["time_between_ramp"] == 2
        steps = results["outputs"]["steps"]
        assert [s["clients"] for s in steps] == [1, 2]
        assert results["outputs"]["summary"]["requests"] > 0
        assert results["metadata"]["target"]["kind"] == "simulated"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def post_ramp(base: str, **values: str) -> None:
    form = {"user_count": "1", "spawn_rate": "1", "host": base, **values}
    request = urllib.request.Request(
        base + "/swarm", data=urllib.parse.urlencode(form).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.loads(response.read())["success"] is True


def test_a_second_web_ui_run_takes_the_forms_new_values(tmp_path: Path):
    """A ramp started again from the form (2 then 4 clients at 5 requests/s after a first run
    at 10) runs, logs and announces the form's values: "expecting 10 requests/s"."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--web-host", "127.0.0.1"]
    command += ["--web-port", str(port), "--output-dir", str(tmp_path / "runs"), *FAST_SIM]
    command += ["--image-width", "64", "--image-height", "48"]
    out = tmp_path / "locust.out"
    log = open(out, "w")
    proc = subprocess.Popen(command, env=child_env(), stdout=log, stderr=subprocess.STDOUT)

    def results(count):
        found = sorted(tmp_path.glob("runs/*/load_test_results.json"))
        return found if len(found) >= count else None

    try:
        wait_for(lambda: get(base + "/"), 90, "the web UI")
        post_ramp(base, max_clients="1", step_size="1", time_between_ramp="2")
        # Locust takes a new shape test once its shape greenlet has ended: after the report
        wait_for(lambda: "edgeload: run folder:" in out.read_text(), 60, "the first run's end")
        time.sleep(1.0)
        post_ramp(
            base, max_clients="4", step_size="2", time_between_ramp="2", requests_per_second="5"
        )
        second = json.loads(wait_for(lambda: results(2), 60, "the second run")[1].read_text())
        assert second["inputs"]["requests_per_second"] == 5  # not the first run's 10
        steps = second["outputs"]["steps"]
        assert [(s["clients"], s["expected_rps"]) for s in steps] == [(2, 10.0), (4, 20.0)]
        assert 0 < steps[0]["achieved_rps"] <= 12  # paced at 5 a client, not at 10
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    lines = [line for line in out.read_text().splitlines() if line.startswith("edgeload: step")]
    announced = [line for line in lines if "expecting" in line]
    assert announced == [
        "edgeload: step 1: 1 clients, expecting 10 requests/s",
        "edgeload: step 1: 2 clients, expecting 10 requests/s",
        "edgeload: step 2: 4 clients, expecting 20 requests/s",
    ], lines


# -- the live edgeload tab and page ------------------------------------------------------------


class _Tables(HTMLParser):
    """The rows (cell texts) of every <tbody> of a DOM, and the SVG elements of its charts."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.row_classes: list[str] = []
        self.polylines: list[dict] = []
        self.circles = 0
        self._in_body = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.rows.append([])
            self.row_classes.append(attrs.get("class") or "")
        elif tag == "td" and self._in_body:
            self._cell = []
        elif tag == "polyline":
            self.polylines.append(attrs)
        elif tag == "circle":
            self.circles += 1

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._in_body = False
        elif tag == "td" and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parse_dom(dom: str) -> _Tables:
    tables = _Tables()
    tables.feed(dom)
    return tables


def live(base: str) -> dict | None:
    body = get(base + "/edgeload/live.json")
    return json.loads(body) if body else None


def rows_with_requests(base: str, count: int):
    """The live JSON once `count` steps have requests in their measured window."""
    data = live(base)
    if data and len([s for s in data["steps"] if s["requests"]]) >= count:
        return data
    return None


@pytest.fixture(scope="module")
def live_ramp(tmp_path_factory):
    """A web-UI throughput run on the two-GPU simulator: a ramp of 2 steps of 10 s, 5 req/s a
    client, started from the form (the test's first request), samples every half second."""
    out = tmp_path_factory.mktemp("live")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--web-host", "127.0.0.1"]
    command += ["--web-port", str(port), "--output-dir", str(out / "runs")]
    command += ["--sim-profile", "gpu-2x", "--sim-time-scale", "20"]
    command += ["--image-width", "64", "--image-height", "48"]
    command += ["--system-sample-interval-seconds", "0.5"]
    log = open(out / "locust.out", "w")
    proc = subprocess.Popen(command, env=child_env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: get(base + "/"), 90, "the web UI")
        form = {"user_count": "1", "spawn_rate": "1", "host": base, "max_clients": "2"}
        form |= {"step_size": "1", "time_between_ramp": "10", "requests_per_second": "5"}
        request = urllib.request.Request(
            base + "/swarm", data=urllib.parse.urlencode(form).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["success"] is True
        yield SimpleNamespace(base=base, out=out, proc=proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.mark.timeout(120)
def test_browser_shows_the_live_page_and_locusts_edgeload_tab(live_ramp, tmp_path):
    """Headless Chromium loads the live page and Locust's own UI on the edgeload tab while the
    ramp runs: step rows, chart points, no console error, screenshots."""
    chromium.require()
    base = live_ramp.base
    wait_for(lambda: rows_with_requests(base, 2), 60, "two steps with requests")

    shot = tmp_path / "edgeload_live_page.png"
    page = chromium.load(base + "/edgeload/", screenshot=shot, wait_ms=3000)
    assert page.console == [], page.console
    dom = parse_dom(page.dom)
    steps = [row for row, cls in zip(dom.rows, dom.row_classes, strict=True) if "step-row" in cls]
    assert len(steps) >= 2, page.dom[:2000]
    assert [row[0] for row in steps[:2]] == ["0", "1"]
    assert steps[0][2:4] == ["1", "5.0"]  # 1 client expecting the form's 5 requests/s
    assert steps[1][2:4] == ["2", "10.0"]
    assert all(cell not in ("", "-") for cell in steps[0][4:9])  # achieved rate, percentiles
    assert 'data-chart="cpu_pct"' in page.dom and 'data-chart="vram_pct"' in page.dom
    drawn = [p for p in dom.polylines if int(p.get("data-n") or 0) >= 2]
    assert len(drawn) >= 6, dom.polylines  # requests, latency and the utilization series
    assert dom.circles >= 20
    assert "GPU 1 NVIDIA L4" in page.dom  # per GPU: the simulated box has two
    assert "generator" in page.dom and "endpoint" in page.dom
    assert shot.is_file() and shot.stat().st_size > 10_000

    shot = tmp_path / "locust_edgeload_tab.png"
    page = chromium.load(base + "/?tab=edgeload", screenshot=shot, wait_ms=6000)
    assert page.console == [], page.console
    assert "Corrected p99 ms" in page.dom and "edgeload-live-link" in page.dom
    rows = parse_dom(page.dom).rows
    assert len(rows) >= 2 and rows[0][:4] == ["0", "done", "1", "5.0"], rows
    assert shot.is_file() and shot.stat().st_size > 10_000


@pytest.mark.timeout(120)
def test_live_json_gives_step_rows_utilization_and_the_reports_figures(live_ramp):
    """The JSON route during the ramp (rows with figures, utilization points of the endpoint
    per GPU and of the generator), Locust's tab data and CSV, and after the run the same rows
    as the final report's per-step table."""
    base = live_ramp.base
    data = wait_for(lambda: rows_with_requests(base, 2), 60, "two steps with requests")
    steps = data["steps"]
    assert [(s["step"], s["clients"], s["expected_rps"]) for s in steps[:2]] == [
        (0, 1, 5.0),
        (1, 2, 10.0),
    ]
    first = steps[0]
    assert first["state"] == "done" and first["achieved_rps"] > 0
    for key in ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "corrected_latency_p99_ms"):
        assert first[key] is not None and first[key] > 0, key
    assert first["steady"] in (True, False) and first["errors"] == {}
    series = {(u["source"], u["metric"], u["gpu"]): u["points"] for u in data["utilization"]}
    for metric in ("cpu_pct", "ram_pct", "gpu_pct", "vram_pct"):
        assert len(series[("endpoint", metric, None)]) >= 3, metric
    for gpu in (0, 1):
        assert len(series[("endpoint", "vram_pct", gpu)]) >= 3
    assert len(series[("generator", "cpu_pct", None)]) >= 3
    assert len(data["throughput"]["requests_per_s"]) >= 3
    assert data["run"]["run_dir"] and data["inputs"]["requests_per_second"] == 5

    stats = json.loads(get(base + "/stats/requests"))
    (tab,) = [s for s in stats["extendedStats"] if s["key"] == "edgeload"]
    assert tab["data"][0]["step"] == "0" and tab["data"][0]["expected_rps"] == "5.0"
    page = get(base + "/")
    assert '"extendedTabs"' in page and "./edgeload/steps.csv" in page
    lines = get(base + "/edgeload/steps.csv").splitlines()
    assert lines[0].startswith("step,") and "corrected_latency_p99_ms" in lines[0]
    assert len(lines) >= 3

    results_path = wait_for(
        lambda: next(iter(live_ramp.out.glob("runs/*/load_test_results.json")), None),
        60,
        "the run's results",
    )
    final = json.loads(results_path.read_text())["outputs"]["steps"]
    data = wait_for(
        lambda: (d := live(base)) and d["run"]["status"] == "completed" and d, 10, "the end"
    )
    assert [{k: v for k, v in s.items() if k != "state"} for s in data["steps"]] == final


# -- synthetic events into a real Locust Environment -----------------------------------------


def _fire(env, t, latency_ms, *, step, clients, error=None):
    env.events.request.fire(
        request_type="POST",
        name="image-query",
        response_time=latency_ms,
        response_length=0,
        response=None,
        exception=RuntimeError(error) if error else None,
        context={
            "intended": t - 0.002,
            "detector": "det_x",
            "step": step,
            "clients": clients,
            "status": 0 if error else 200,
            "error": error,
        },
        start_time=t,
    )


def _sample(source, host, t, cpu, gpus=()):
    return {
        "type": runlog.UTILIZATION,
        "t": t,
        "source": source,
        "host": host,
        "cpu_pct": cpu,
        "ram_pct": 40.0,
        "gpu_pct": None if not gpus else sum(g[0] for g in gpus) / len(gpus),
        "vram_pct": None if not gpus else 25.0,
        "ram_used_bytes": 1,
        "vram_used_bytes": None,
        "vram_total_bytes": None,
        "gpus": [
            {
                "index": i,
                "name": "L4",
                "gpu_pct": busy,
                "vram_used_bytes": used,
                "vram_total_bytes": 100,
            }
            for i, (busy, used) in enumerate(gpus)
        ],
    }


def _two_synthetic_steps(env, sink, inputs: dict, t0: float) -> None:
    """A header, then two 10 s steps (1 then 2 clients at 10/s, 4 timeouts in the second)
    fired as Locust request events, with endpoint (two GPUs) and generator samples."""
    sink.write(runlog.header(scenario="throughput", run_id="r1", target=None, inputs=inputs,
                             metadata={}))  # fmt: skip
    for step, clients in ((0, 1), (1, 2)):
        start = t0 + 10 * step
        sink.write({"type": runlog.STEP, "t": start, "step": step, "clients": clients,
                    "expected_rps": 10.0 * clients})  # fmt: skip
        sink.write(runlog.event("step_ready", "", t=start + 0.05, step=step))
        for i in range(100 * clients):
            error = "timeout" if step == 1 and i % 50 == 0 else None
            _fire(env, start + 0.1 + i * 0.098 / clients, 5.0 + i % 7, step=step,
                  clients=clients, error=error)  # fmt: skip
        for k in range(10):
            t = start + k + 0.5
            sink.write(_sample("endpoint", "edge:30101", t, 20.0 + k, [(10.0, 30), (50, 60)]))
            sink.write(_sample("generator", "loadgen", t, 5.0 + k))
        sink.flush()


def test_live_view_of_synthetic_events_is_the_reports_table(tmp_path, monkeypatch):
    """Request events fired into a real Environment reach the tab, the JSON route and the CSV
    through a real LogSink and Locust's own web UI (Flask test client); once the run ends,
    the live rows are exactly the final report's per-step table."""
    from locust import User
    from locust.env import Environment
    from locust.event import Events

    from edgeload.reporting.logreader import read_log
    from edgeload.scenarios.throughput import webui
    from edgeload.scenarios.throughput.analysis import analyze
    from edgeload.scenarios.throughput.logsink import LogSink, LogWriter

    class NoUser(User):
        abstract = True

    monkeypatch.setattr(sys, "argv", ["locust"])  # Locust's web UI parses the command line
    env = Environment(user_classes=[NoUser], events=Events())
    env.create_local_runner()
    try:
        web_ui = env.create_web_ui("127.0.0.1", 0, delayed_start=True)
        live = webui.LiveRun(env, min_refresh_s=0)
        webui.mount(web_ui, live)
        client = web_ui.app.test_client()
        assert client.get("/edgeload/live.json").get_json()["run"]["status"] == "setting up"

        path = tmp_path / runlog.LOG_FILENAME
        sink = LogSink(env, LogWriter(path), flush_interval_s=60, on_record=live.add).register()
        inputs = {"max_clients": 2, "step_size": 1, "requests_per_second": 10.0}
        t0 = 1_000_000.0
        _two_synthetic_steps(env, sink, inputs, t0)

        data = client.get("/edgeload/live.json").get_json()
        steps = data["steps"]
        assert [(s["step"], s["clients"], s["state"]) for s in steps] == [
            (0, 1, "done"),
            (1, 2, "running"),
        ]
        assert steps[0]["expected_rps"] == 10.0 and 9.5 < steps[0]["achieved_rps"] < 10.5
        assert steps[1]["errors"] == {"timeout": 4}
        assert steps[1]["corrected_latency_p99_ms"] > steps[1]["latency_p99_ms"]
        assert data["table"][1]["errors"] == "4 (timeout 4)"
        series = {(u["source"], u["metric"], u["gpu"]): u["points"] for u in data["utilization"]}
        assert series[("endpoint", "cpu_pct", None)][0] == [0.5, 20.0]
        assert [p[1] for p in series[("endpoint", "vram_pct", 1)]] == [60.0] * 20
        assert len(series[("generator", "cpu_pct", None)]) == 20
        assert ("generator", "gpu_pct", None) not in series  # no GPU there: no line

        stats = client.get("/stats/requests").get_json()
        assert [s["key"] for s in stats["extendedStats"]] == ["edgeload"]
        assert stats["extendedStats"][0]["data"][1]["state"] == "running"
        index = client.get("/").get_data(as_text=True)
        assert "edgeload-live-link" in index and '"extendedTables"' in index
        csv_lines = client.get("/edgeload/steps.csv").get_data(as_text=True).splitlines()
        assert len(csv_lines) == 3 and "timeout:4" in csv_lines[2]
        assert "<svg" not in client.get("/edgeload/").get_data(as_text=True)  # drawn by script

        # the end record is shown at once, however recently the page was refreshed: never
        # "completed" beside the rows of a snapshot taken while the last step still ran
        live.min_refresh_s = 3600
        end = runlog.end("completed", "the ramp ran its course", t=t0 + 20,
                         locust_request_count=300)  # fmt: skip
        sink.close([end])
        data = client.get("/edgeload/live.json").get_json()
        assert data["run"]["status"] == "completed"
        final = analyze(read_log(path)).outputs["steps"]
        assert [{k: v for k, v in s.items() if k != "state"} for s in data["steps"]] == final

        live.add(runlog.header(scenario="throughput", run_id="r2", target=None, inputs=inputs,
                               metadata={}))  # fmt: skip
        data = client.get("/edgeload/live.json").get_json()
        assert data["run"]["run_id"] == "r2" and data["steps"] == []  # a new run starts afresh
    finally:
        env.runner.quit()


@pytest.mark.timeout(120)
def test_live_tab_with_processes_takes_rows_and_samples_from_the_master(tmp_path):
    """With --processes the master's web UI shows the workers' requests and generator samples
    (forwarded with their stats reports) and its own endpoint samples; after the run, its rows
    are the report's, and the last step ends when the load stopped."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--web-host", "127.0.0.1"]
    command += ["--web-port", str(port), "--output-dir", str(tmp_path), "--processes", "2"]
    command += [*FAST_SIM, *SMALL, "--system-sample-interval-seconds", "0.5"]
    log = open(tmp_path / "locust.out", "w")
    proc = subprocess.Popen(command, env=child_env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: get(base + "/"), 90, "the web UI")
        wait_for(
            lambda: (s := get(base + "/stats/requests")) and json.loads(s)["worker_count"] == 2,
            60,
            "two workers",
        )
        form = {"user_count": "1", "spawn_rate": "1", "host": base, "max_clients": "4"}
        form |= {"step_size": "2", "time_between_ramp": "5", "requests_per_second": "5"}
        request = urllib.request.Request(
            base + "/swarm", data=urllib.parse.urlencode(form).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["success"] is True

        def ready():
            data = rows_with_requests(base, 2)
            sources = {u["source"] for u in data["utilization"]} if data else set()
            return data if {"endpoint", "generator"} <= sources else None

        data = wait_for(ready, 60, "two steps and samples of both sources")
        steps = data["steps"]
        assert [(s["clients"], s["expected_rps"]) for s in steps[:2]] == [(2, 10.0), (4, 20.0)]
        assert steps[0]["achieved_rps"] > 0 and steps[0]["latency_p99_ms"] is not None
        assert data["requests"] > 20
        metrics = {(u["source"], u["metric"]) for u in data["utilization"]}
        assert {("endpoint", "cpu_pct"), ("generator", "cpu_pct"), ("generator", "ram_pct")} <= (
            metrics
        )
        stats = json.loads(get(base + "/stats/requests"))
        (tab,) = [s for s in stats["extendedStats"] if s["key"] == "edgeload"]
        assert [row["clients"] for row in tab["data"][:2]] == ["2", "4"]

        results_path = wait_for(
            lambda: next(iter(tmp_path.glob("*/load_test_results.json")), None), 60, "the results"
        )
        final = json.loads(results_path.read_text())["outputs"]["steps"]
        last = final[-1]
        # the last step ends when the load stopped, not when the master closed the log after
        # waiting for the workers' last reports (4 s later)
        assert last["measured_from_s"] + last["duration_s"] <= last["start_s"] + 5 + 1.0, last
        data = wait_for(
            lambda: (d := live(base)) and d["run"]["status"] == "completed" and d, 10, "the end"
        )
        assert [{k: v for k, v in s.items() if k != "state"} for s in data["steps"]] == final
        # SIGTERM while the report may still be written: the report completes, then Locust quits
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 143
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_several_generator_processes_on_one_host_are_lines_of_their_own():
    """With --processes every Locust process samples its own CPU on the same host: each is a
    line (by pid), never one line jumping between them; one process stays one line per host."""
    from edgeload.scenarios.throughput.webui import utilization_payload

    def sample(t: float, pid: int, cpu: float, host: str = "loadgen") -> dict:
        return {"type": runlog.UTILIZATION, "t": t, "source": "generator", "host": host,
                "pid": pid, "cpu_pct": cpu, "process_cpu_pct": cpu}  # fmt: skip

    samples = [sample(100.0 + i, pid, cpu) for i in range(5) for pid, cpu in ((11, 10), (12, 90))]
    samples += [sample(100.0 + i, 7, 50.0, host="other") for i in range(5)]
    lines = {
        u["label"]: [p[1] for p in u["points"]]
        for u in utilization_payload(samples, 100.0)
        if u["metric"] == "cpu_pct"
    }
    assert lines == {
        "generator loadgen pid 11": [10.0] * 5,
        "generator loadgen pid 12": [90.0] * 5,
        "generator other": [50.0] * 5,
    }
