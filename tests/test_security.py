"""Secrets and the cloud: the API token never shows, and the Groundlight cloud is never measured.

Every command runs, as a user runs it (its own process), against a simulator started separately,
with GROUNDLIGHT_ENDPOINT pointing at it and a canary token in GROUNDLIGHT_API_TOKEN (the
simulator accepts any well-formed token). Then stdout, stderr and every file the run wrote
(logs, result JSON, PNG plots, as bytes) are searched for the canary, its first 12 characters
(the part the groundlight SDK quotes in its own errors) and its last 16. Error paths too: an
unreachable endpoint and an endpoint that answers 401.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from fake_endpoint import FakeEndpoint

from edgeload import cli
from edgeload.sim import SimulatedEndpoint
from edgeload.target import Target

REPO = Path(__file__).resolve().parent.parent
CANARY = "api_CANARY7q3Zx9LeakTest_0123456789abcdef"
NEEDLES = (CANARY, CANARY[:12], CANARY[-16:])
SMALL = ["--image-width", "64", "--image-height", "48"]


def find_canary(text: str | bytes) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [needle for needle in NEEDLES if needle.encode() in data]


def files_with_canary(folder: Path) -> list[str]:
    found = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and find_canary(path.read_bytes()):
            found.append(str(path))
    return found


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GROUNDLIGHT_")}
    env.update(GROUNDLIGHT_ENDPOINT=url, GROUNDLIGHT_API_TOKEN=CANARY, PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def edgeload(*args: str, env: dict, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "edgeload.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_no_canary(proc: subprocess.CompletedProcess, *folders: Path) -> None:
    assert not find_canary(proc.stdout), "the token is on stdout"
    assert not find_canary(proc.stderr), "the token is on stderr"
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    for folder in folders:
        assert files_with_canary(folder) == []


def run_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


@pytest.fixture(scope="module")
def sim():
    with SimulatedEndpoint("demo", time_scale=20) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("security")


@pytest.fixture(scope="module")
def throughput_run(sim, workdir):
    out = workdir / "throughput"
    proc = edgeload(
        "throughput", "BINARY", "--max-clients", "2", "--step-size", "1",
        "--time-between-ramp", "1.5", "--requests-per-second", "5", *SMALL,
        "--system-sample-interval-seconds", "0.5", "--output-dir", str(out),
        env=env_for(sim.url), cwd=workdir,
    )  # fmt: skip
    return proc, out


def test_throughput_never_shows_the_token(throughput_run):
    proc, out = throughput_run
    assert proc.returncode == 0, proc.stderr[-2000:]
    [run] = run_dirs(out)
    written = {p.name for p in run.iterdir()}
    assert {"load_test.log", "load_test_results.json", "time_vs_latency.png"} <= written
    assert_no_canary(proc, out)


def test_report_and_compare_never_show_the_token(throughput_run, workdir):
    _, out = throughput_run
    [run] = run_dirs(out)
    report = edgeload("report", str(run), env=env_for("http://127.0.0.1:1"), cwd=workdir)
    assert report.returncode == 0, report.stderr
    compare = edgeload(
        "compare", str(run), str(run), env=env_for("http://127.0.0.1:1"), cwd=workdir
    )
    assert compare.returncode == 0, compare.stderr
    assert_no_canary(report, out)
    assert_no_canary(compare)


def test_fps_never_shows_the_token(sim, workdir):
    out = workdir / "fps"
    proc = edgeload(
        "fps", "BINARY", "--warmup-iterations", "2", "--iterations", "10", "--image-size",
        "64x48", "--client", "http", "--output-dir", str(out),
        env=env_for(sim.url), cwd=workdir,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(run_dirs(out)) == 1
    assert_no_canary(proc, out)


def test_memory_pressure_never_shows_the_token(sim, workdir):
    out = workdir / "memory-pressure"
    proc = edgeload(
        "memory-pressure", "1", "BINARY", "--iteration-interval", "0.5", "--timeout", "900",
        "--output-dir", str(out), "--sim-time-scale", "20", "--k8s", sim.k8s_url,
        env=env_for(sim.url), cwd=workdir,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert len(run_dirs(out)) == 1 and any(run_dirs(out)[0].glob("*.png"))
    assert_no_canary(proc, out)


def test_rollouts_never_show_the_token(sim, workdir):
    out = workdir / "rollouts"
    proc = edgeload(
        "rollouts", "1", "--duration", "120", "--label-interval", "1", "--output-dir", str(out),
        "--sim-time-scale", "20", "--k8s", sim.k8s_url,
        env=env_for(sim.url), cwd=workdir,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stdout[-2000:] + proc.stderr[-2000:]
    assert len(run_dirs(out)) == 1
    assert_no_canary(proc, out)


def test_resources_never_shows_the_token(sim, workdir):
    out = workdir / "resources"
    (workdir / "resources.yaml").write_text("BINARY:\n  image_sizes: [64x48]\n")
    proc = edgeload(
        "resources", "--matrix", "resources.yaml", "--output-dir", str(out),
        "--k8s", sim.k8s_url, env=env_for(sim.url), cwd=workdir,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert len(run_dirs(out)) == 1 and any(run_dirs(out)[0].glob("*.png"))


def test_rollouts_under_load_never_shows_the_token(sim, workdir):
    out = workdir / "rollouts-under-load"
    proc = edgeload(
        "rollouts-under-load", "--error-free-s", "20", "--min-rollouts", "1", "--label-interval",
        "1", "--labels-per-batch", "10", "--image-size", "64x48", "--client", "http",
        "--output-dir", str(out), "--sim-time-scale", "20", "--k8s", sim.k8s_url,
        env=env_for(sim.url), cwd=workdir,
    )  # fmt: skip
    assert proc.returncode in (0, 1, 4), proc.stdout[-2000:] + proc.stderr[-2000:]
    assert len(run_dirs(out)) == 1
    assert_no_canary(proc, out)


def test_lenses_never_show_the_token(sim, workdir):
    out = workdir / "lenses"
    lens = {
        "name": "person", "type": "bbox_to_binary", "objects": 2, "target_fps": 10,
        "image_size": [64, 48], "binary_image_size": [32, 32],
    }  # fmt: skip
    (workdir / "lenses.yaml").write_text(json.dumps({"lenses": [lens]}))  # JSON is YAML
    proc = edgeload(
        "lenses", "lenses.yaml", "--duration", "1", "--warmup", "0", "--client", "http",
        "--output-dir", str(out), env=env_for(sim.url), cwd=workdir,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert len(run_dirs(out)) == 1
    assert_no_canary(proc, out)


def test_sim_never_shows_a_clients_token(workdir):
    command = [sys.executable, "-m", "edgeload.cli", "sim", "--port", "0", "--profile", "demo"]
    proc = subprocess.Popen(
        command,
        env=env_for("http://127.0.0.1:1"),
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline()
        url = first.split("serving on ", 1)[1].split()[0]
        for path, data in (("/device-api/v1/me", None), ("/device-api/v1/image-queries", b"x")):
            request = urllib.request.Request(
                url + path, data=data, method="POST" if data else "GET"
            )
            request.add_header("x-api-token", CANARY)
            try:
                urllib.request.urlopen(request, timeout=5).close()
            except urllib.error.HTTPError as exc:  # the bad image query: 4xx, as designed
                exc.close()
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert not find_canary(first + out) and not find_canary(err)
    assert "Traceback" not in err


# -- error paths ----------------------------------------------------------------------------


def test_an_unreachable_endpoint_never_shows_the_token(workdir):
    url = f"http://127.0.0.1:{closed_port()}"
    out = workdir / "unreachable"
    for args in (
        ["throughput", "BINARY", "--output-dir", str(out)],
        ["fps", "BINARY", "--output-dir", str(out)],
        ["memory-pressure", "1", "BINARY", "--connect-timeout", "1", "--output-dir", str(out)],
    ):
        proc = edgeload(*args, env=env_for(url), cwd=workdir)
        assert proc.returncode != 0
        assert "127.0.0.1" in proc.stdout + proc.stderr
        assert_no_canary(proc, out)


def test_an_endpoint_answering_401_never_shows_the_token(workdir):
    routes = {"GET /health/live": (200, {"status": "alive"})}
    for route in ("GET /device-api/v1/me", "GET /v1/me", "POST /device-api/v1/image-queries"):
        routes[route] = (401, {"detail": "Invalid token."})
    out = workdir / "unauthorized"
    with FakeEndpoint(routes) as fake:
        for args in (
            ["throughput", "BINARY", "--output-dir", str(out)],
            ["fps", "BINARY", "--output-dir", str(out)],
            ["memory-pressure", "1", "BINARY", "--connect-timeout", "2", "--output-dir", str(out)],
        ):
            proc = edgeload(*args, env=env_for(fake.url), cwd=workdir)
            assert proc.returncode != 0, proc.stdout[-1000:]
            assert "token" in (proc.stdout + proc.stderr).lower()  # it says what is wrong
            assert_no_canary(proc, out)
        assert any(h.get("x-api-token") == CANARY for h in fake.headers)  # it was really sent


def test_a_target_never_shows_its_token():
    target = Target(kind="real", url="http://127.0.0.1:30101", token=CANARY)
    shown = repr(target) + str(target) + target.describe() + json.dumps(target.as_record())
    assert not find_canary(shown)


# -- never the Groundlight cloud -------------------------------------------------------------

CLOUD = "https://api.groundlight.ai"
SCENARIOS = {
    "throughput": ["throughput", "BINARY"],
    "fps": ["fps", "BINARY"],
    "memory-pressure": ["memory-pressure", "1", "BINARY"],
    "rollouts": ["rollouts", "1"],
    "edge-vs-cloud": ["edge-vs-cloud", "--sample", "2"],
    "resources": [
        "resources",
        "--matrix",
        str(Path(__file__).resolve().parents[1] / "configs" / "resources-matrix.yaml"),
    ],  # fmt: skip
    "rollouts-under-load": ["rollouts-under-load"],
    "lenses": ["lenses", str(REPO / "configs" / "lenses-example.yaml")],
}


@pytest.fixture
def no_network(monkeypatch):
    """Fail on any name lookup or connection (nothing may leave this process)."""
    attempts: list[str] = []

    def refuse(*args, **kwargs):
        attempts.append(repr(args[:2]))
        raise OSError("network access is not allowed in this test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    return attempts


@pytest.mark.parametrize("name", list(SCENARIOS))
@pytest.mark.parametrize("host", [CLOUD, "http://edge.groundlight.ai:30101"])
def test_every_scenario_refuses_the_groundlight_cloud(
    name, host, no_network, monkeypatch, capsys, tmp_path
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GROUNDLIGHT_ENDPOINT", host)
    monkeypatch.setenv("GROUNDLIGHT_API_TOKEN", CANARY)
    code = cli.main(SCENARIOS[name])
    out, err = capsys.readouterr()
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Groundlight cloud" in lines[0], err
    assert no_network == [], "a request was attempted"
    assert not any(tmp_path.iterdir()), "nothing is written for a refused run"
    assert not find_canary(out + err)


@pytest.mark.parametrize("locustfile", ["throughput.py", "fps.py"])
def test_the_locustfiles_refuse_the_groundlight_cloud(locustfile, tmp_path):
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(REPO / "locustfiles" / locustfile)]
        + ["--headless", "--output-dir", str(tmp_path)],
        env=env_for(CLOUD),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    ours = [
        line
        for line in proc.stderr.splitlines()
        if line.strip() and not (line.startswith("[") and "/locust." in line)
    ]
    assert len(ours) == 1 and "Groundlight cloud" in ours[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not find_canary(proc.stdout + proc.stderr)
    assert time.monotonic() - started < 60


# -- the simulator's admin API beyond loopback ----------------------------------------------


def _admin_call(url: str, token: str | None) -> int:
    request = urllib.request.Request(url + "/_sim/faults", data=b'{"down_for_s": 5}', method="POST")
    request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("x-edgeload-admin-token", token)
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code


def test_sim_beyond_loopback_says_what_it_exposes_and_guards_its_admin_api(workdir):
    command = [sys.executable, "-m", "edgeload.cli", "sim", "--port", "0", "--host", "0.0.0.0"]
    proc = subprocess.Popen(
        command,
        env=env_for("http://127.0.0.1:1"),
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    try:
        while not any("x-edgeload-admin-token" in line for line in lines):
            line = proc.stdout.readline()
            assert line, proc.stderr.read()[-2000:]
            lines.append(line)
        port = lines[0].split("serving on ", 1)[1].split()[0].rsplit(":", 1)[1]
        url = f"http://127.0.0.1:{port}"  # requests stay on loopback
        token = lines[-1].rsplit(": ", 1)[1].strip()
        assert _admin_call(url, None) == 401
        assert _admin_call(url, "wrong-token") == 401
        assert _admin_call(url, token) == 200
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
    text = "".join(lines)
    assert "reachable from the network" in text and len(token) >= 16


def test_a_simulated_endpoint_with_a_token_passes_it_on_its_admin_calls():
    from edgeload.sim import SimulatedEndpoint

    with SimulatedEndpoint("demo", admin_token="test-admin-token") as sim:
        assert _admin_call(sim.url, None) == 401
        sim.set_faults(error_rate={})  # its own calls carry the token
        assert sim.state()["profile"] == "demo"


def test_url_credentials_are_stripped_from_everything_written():
    from edgeload.redaction import scrub, strip_credentials

    assert strip_credentials("http://user:SECRET@host:8001/api") == "http://host:8001/api"
    assert strip_credentials("via https://SECRET@k8s.local, then") == "via https://k8s.local, then"
    assert strip_credentials("no URL here, a@b") == "no URL here, a@b"
    cleaned = scrub({"k8s": "http://u:SECRET@h", "api_token": "x", "list": ["ftp://a:SECRET@b"]})
    assert cleaned == {"k8s": "http://h", "list": ["ftp://b"]}
    assert "SECRET" not in json.dumps(cleaned)
