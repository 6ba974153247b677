"""HTTPS endpoints with self-signed certificates, as real edge endpoints now serve.

`edgeload sim --tls` / `SimulatedEndpoint(tls=True)` serve HTTPS with a certificate made by the
openssl tool. Against it every scenario fails by default with one line about certificate
verification (naming DISABLE_TLS_VERIFY=1 and --ca-bundle), and works with DISABLE_TLS_VERIFY=1
or --ca-bundle PATH, through every client it uses (SDK, raw HTTP, Locust's FastHttpUser,
samplers, the Kubernetes client, the simulator's admin API).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import types
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from edgeload import cli
from edgeload.errors import UsageError
from edgeload.samplers import EndpointSampler
from edgeload.scenarios.throughput import users
from edgeload.sim import DEMO_TOKEN, SimulatedEndpoint
from edgeload.target import make_sdk, resolve_target

pytestmark = pytest.mark.skipif(
    shutil.which("openssl") is None, reason="the openssl tool makes the test certificates"
)

SMALL = ["--image-width", "64", "--image-height", "48"]


@pytest.fixture(scope="module")
def sim():
    with SimulatedEndpoint("demo", time_scale=20, tls=True) as endpoint:
        yield endpoint


def env_for(url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISABLE_TLS_VERIFY",)}
    env.update(GROUNDLIGHT_ENDPOINT=url, GROUNDLIGHT_API_TOKEN=DEMO_TOKEN, PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def edgeload(*args: str, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "edgeload.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
    )


def real_env(monkeypatch, url: str, **extra: str) -> None:
    monkeypatch.setenv("GROUNDLIGHT_ENDPOINT", url)
    monkeypatch.setenv("GROUNDLIGHT_API_TOKEN", DEMO_TOKEN)
    monkeypatch.delenv("DISABLE_TLS_VERIFY", raising=False)
    for name, value in extra.items():
        monkeypatch.setenv(name, value)


# -- the simulator ----------------------------------------------------------------------------


def test_the_simulator_serves_https_with_a_certificate_for_loopback(sim):
    assert sim.url.startswith("https://127.0.0.1:")
    assert Path(sim.ca_bundle).is_file()
    with pytest.raises(urllib.error.URLError) as info:
        urllib.request.urlopen(sim.url + "/health/live", timeout=5)
    assert isinstance(info.value.reason, ssl.SSLCertVerificationError)
    context = ssl.create_default_context(cafile=sim.ca_bundle)
    for url in (sim.url, sim.url.replace("127.0.0.1", "localhost")):
        with urllib.request.urlopen(url + "/health/live", timeout=5, context=context) as r:
            assert json.loads(r.read()) == {"status": "alive"}
    assert sim.state()["time_scale"] == 20  # the admin API trusts the certificate too


def test_the_certificate_goes_away_with_the_simulator():
    endpoint = SimulatedEndpoint("zero-latency", tls=True).start()
    cert = Path(endpoint.ca_bundle)
    assert cert.is_file()
    endpoint.stop()
    assert not cert.exists()


def test_edgeload_sim_tls_serves_https_and_keeps_its_certificate(tmp_path):
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path), PYTHONUNBUFFERED="1")
    command = [sys.executable, "-m", "edgeload.cli", "sim", "--tls", "--port", "0"]
    certs = []
    for _ in range(2):
        proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            lines = [proc.stdout.readline().decode() for _ in range(4)]
            url = lines[0].split("serving on ", 1)[1].split()[0]
            assert url.startswith("https://127.0.0.1:")
            cert = lines[3].split("certificate ", 1)[1].split(":", 1)[0]
            assert "--ca-bundle" in lines[3] and "DISABLE_TLS_VERIFY=1" in lines[3]
            context = ssl.create_default_context(cafile=cert)
            with urllib.request.urlopen(url + "/health/live", timeout=5, context=context) as r:
                assert r.status == 200
            certs.append((cert, Path(cert).read_bytes()))
        finally:
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=20)
    assert certs[0] == certs[1]  # the same file and certificate: a --ca-bundle stays valid
    assert Path(certs[0][0]).is_relative_to(tmp_path)


def test_without_openssl_tls_is_one_line(monkeypatch, capsys):
    import edgeload.sim.tls as tls

    monkeypatch.setattr(tls.shutil, "which", lambda name: None)
    monkeypatch.setenv("XDG_CACHE_HOME", "/nonexistent-cache-for-this-test")
    assert cli.main(["sim", "--tls", "--port", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "openssl" in err
    with pytest.raises(UsageError, match="openssl"):
        SimulatedEndpoint(tls=True).start()


# -- the target and its clients ---------------------------------------------------------------


def test_the_target_refuses_an_unverified_certificate_with_advice(sim):
    env = {"GROUNDLIGHT_ENDPOINT": sim.url, "GROUNDLIGHT_API_TOKEN": DEMO_TOKEN}
    for check_reachable in (True, False):
        with pytest.raises(UsageError) as info:
            resolve_target(environ=env, check_reachable=check_reachable)
        message = str(info.value)
        assert "certificate" in message and "\n" not in message
        assert "DISABLE_TLS_VERIFY=1" in message and "--ca-bundle" in message


@pytest.mark.parametrize("how", ["ca_bundle", "disable"])
def test_the_sdk_and_the_samplers_work_with_a_ca_bundle_or_without_verification(sim, how):
    env = {"GROUNDLIGHT_ENDPOINT": sim.url, "GROUNDLIGHT_API_TOKEN": DEMO_TOKEN}
    if how == "disable":
        env["DISABLE_TLS_VERIFY"] = "1"
    bundle = sim.ca_bundle if how == "ca_bundle" else None
    target = resolve_target(environ=env, ca_bundle=bundle)
    assert target.verify_tls is (how == "ca_bundle")
    gl = make_sdk(target)
    assert gl.whoami()
    assert EndpointSampler(target).sample() is not None
    assert target.get_json("/status/metrics.json")


def test_locust_workers_get_the_ca_from_the_master(sim, tmp_path, monkeypatch):
    monkeypatch.delenv("DISABLE_TLS_VERIFY", raising=False)
    pem = Path(sim.ca_bundle).read_text()
    worker_options = types.SimpleNamespace(
        ca_bundle="/path/on/the/master/only.pem", edgeload_ca_pem=pem, edgeload_verify_tls=True
    )
    verify, ca_file = users.tls_settings(types.SimpleNamespace(parsed_options=worker_options))
    assert verify and Path(ca_file).read_text() == pem
    ssl.create_default_context(cafile=ca_file)  # a usable CA file
    worker_options.edgeload_verify_tls = False  # DISABLE_TLS_VERIFY=1 on the master
    assert users.tls_settings(types.SimpleNamespace(parsed_options=worker_options))[0] is False
    monkeypatch.setenv("DISABLE_TLS_VERIFY", "1")  # or on the worker
    local = types.SimpleNamespace(ca_bundle=sim.ca_bundle)
    assert users.tls_settings(types.SimpleNamespace(parsed_options=local)) == (
        False,
        sim.ca_bundle,
    )


# -- every scenario ---------------------------------------------------------------------------

SCENARIOS = {
    "throughput": ["throughput", "BINARY", "--max-clients", "1", *SMALL],
    "fps": ["fps", "BINARY", "--iterations", "5", "--image-size", "64x48"],
    "memory-pressure": ["memory-pressure", "1", "BINARY"],
    "rollouts": ["rollouts", "1", "--duration", "10"],
    "edge-vs-cloud": ["edge-vs-cloud", "--sample", "2", "--image-size", "64x48"],
    "resources": [
        "resources",
        "--matrix",
        str(Path(__file__).resolve().parents[1] / "configs" / "resources-matrix.yaml"),
    ],  # fmt: skip
    "rollouts-under-load": ["rollouts-under-load", "--image-size", "64x48"],
    "lenses": [
        "lenses",
        str(Path(__file__).resolve().parent.parent / "configs" / "lenses-example.yaml"),
        "--duration",
        "1",
    ],
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_scenario_fails_by_default_with_one_line_about_the_certificate(
    name, sim, monkeypatch, capsys, tmp_path
):
    import edgeload.scenarios.throughput.command as throughput

    def refuse(*args, **kwargs):
        raise AssertionError("Locust must not start")

    monkeypatch.setattr(throughput, "subprocess", types.SimpleNamespace(Popen=refuse))
    monkeypatch.chdir(tmp_path)
    real_env(monkeypatch, sim.url)
    code = cli.main(SCENARIOS[name] + ["--output-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "verify the TLS certificate" in lines[0]
    assert "DISABLE_TLS_VERIFY=1" in lines[0] and "--ca-bundle" in lines[0]
    assert not any(tmp_path.iterdir()), "no run folder for a run that never started"


def only_run(folder: Path) -> Path:
    [run] = [p for p in folder.iterdir() if p.is_dir()]
    return run


@pytest.mark.parametrize(
    "client, how", [("http", "ca_bundle"), ("sdk", "disable")], ids=["http+ca", "sdk+disable"]
)
def test_throughput_works_over_https(client, how, sim, tmp_path):
    extra = ["--ca-bundle", sim.ca_bundle] if how == "ca_bundle" else []
    env = env_for(sim.url, **({"DISABLE_TLS_VERIFY": "1"} if how == "disable" else {}))
    proc = edgeload(
        "throughput", "BINARY", "--max-clients", "2", "--step-size", "1",
        "--time-between-ramp", "1", "--requests-per-second", "5", "--client", client, *SMALL,
        "--output-dir", str(tmp_path), *extra,
        env=env, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((only_run(tmp_path) / "load_test_results.json").read_text())
    summary = results["outputs"]["summary"]
    assert summary["requests"] > 0 and summary["success_rate"] == 1.0
    assert results["metadata"]["target"]["url"] == sim.url


@pytest.mark.parametrize(
    "client, how", [("sdk", "ca_bundle"), ("http", "disable")], ids=["sdk+ca", "http+disable"]
)
def test_fps_works_over_https(client, how, sim, tmp_path):
    extra = ["--ca-bundle", sim.ca_bundle] if how == "ca_bundle" else []
    env = env_for(sim.url, **({"DISABLE_TLS_VERIFY": "1"} if how == "disable" else {}))
    proc = edgeload(
        "fps", "BINARY", "--warmup-iterations", "2", "--iterations", "10",
        "--image-size", "64x48", "--client", client, "--output-dir", str(tmp_path), *extra,
        env=env, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    results = json.loads((only_run(tmp_path) / "load_test_results.json").read_text())
    assert results["status"] == "completed"
    assert results["outputs"]["sizes"][0]["completed_iterations"] == 10


def test_resources_works_over_https_with_a_ca_bundle(sim, tmp_path):
    (tmp_path / "m.yaml").write_text("COUNT:\n  image_sizes: [64x48]\n")
    proc = edgeload(
        "resources", "--matrix", "m.yaml", "--ca-bundle", sim.ca_bundle, "--k8s", sim.k8s_url,
        "--output-dir", str(tmp_path / "out"),
        env=env_for(sim.url), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    results = json.loads((only_run(tmp_path / "out") / "load_test_results.json").read_text())
    (row,) = results["outputs"]["results"]
    assert row["status"] == "measured" and row["vram_bytes"] > 0
    assert row["pods_ram_bytes"] > 0  # the Kubernetes metrics API over https too


def assert_answers_over_tls(outputs: dict) -> None:
    """Edge answers came back, and no query failed to connect (a TLS failure would)."""
    answers = outputs["answers"]
    assert answers["by_kind"]["edge"] > 0
    failed_to_connect = {"connection", "client"} & set(answers["errors_by_category"])
    assert not failed_to_connect, answers["errors_by_category"]


def test_memory_pressure_works_over_https_with_a_ca_bundle(sim, tmp_path):
    proc = edgeload(
        "memory-pressure", "2", "BINARY", "--iteration-interval", "0.5",
        "--ca-bundle", sim.ca_bundle, "--output-dir", str(tmp_path),
        # a given endpoint: its time scale and Kubernetes API are what the user says
        "--sim-time-scale", "20", "--k8s", sim.k8s_url,
        env=env_for(sim.url), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    results = json.loads((only_run(tmp_path) / "load_test_results.json").read_text())
    assert results["status"] == "completed"
    # the Kubernetes client watched the simulator's pods over TLS
    pods = results["outputs"]["pods"]
    assert pods["source"] == sim.k8s_url and pods["pods"]
    assert_answers_over_tls(results["outputs"])


def test_rollouts_work_over_https_without_verification(sim, tmp_path):
    proc = edgeload(
        # long enough, with labels often enough, for a new model to roll out (the goal)
        "rollouts", "1", "--duration", "120", "--label-interval", "1",
        "--output-dir", str(tmp_path), "--sim-time-scale", "20", "--k8s", sim.k8s_url,
        env=env_for(sim.url, DISABLE_TLS_VERIFY="1"), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    results = json.loads((only_run(tmp_path) / "load_test_results.json").read_text())
    assert results["status"] == "completed"
    assert_answers_over_tls(results["outputs"])


def test_rollouts_under_load_works_over_https_with_a_ca_bundle(sim, tmp_path):
    proc = edgeload(
        "rollouts-under-load", "--error-free-s", "20", "--min-rollouts", "1",
        "--label-interval", "1", "--labels-per-batch", "10", "--image-size", "64x48",
        "--ca-bundle", sim.ca_bundle, "--output-dir", str(tmp_path),
        "--sim-time-scale", "20", "--k8s", sim.k8s_url,
        env=env_for(sim.url), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stdout[-3000:] + proc.stderr[-2000:]
    results = json.loads((only_run(tmp_path) / "load_test_results.json").read_text())
    assert results["status"] == "completed"
    out = results["outputs"]
    # the SDK's queries and the Kubernetes client (pods, Deployments) all went over TLS
    assert out["pod_source"] == sim.k8s_url and out["revisions"]["available"]
    assert out["load"]["requests"] > 0
    assert not {"connection", "client"} & set(out["outside_rollouts"]["errors_by_category"])


@pytest.mark.parametrize("client", ["sdk", "http"])
def test_lenses_work_over_https_with_a_ca_bundle(client, sim, tmp_path):
    config = tmp_path / "lenses.yaml"
    lens = {"name": "door", "type": "single_binary", "image_size": [64, 48], "target_fps": 20}
    config.write_text(json.dumps({"lenses": [lens]}))  # JSON is YAML
    proc = edgeload(
        "lenses", str(config), "--duration", "1", "--warmup", "0", "--client", client,
        "--ca-bundle", sim.ca_bundle, "--output-dir", str(tmp_path / "out"),
        env=env_for(sim.url), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    results = json.loads((only_run(tmp_path / "out") / "load_test_results.json").read_text())
    assert results["status"] == "completed" and results["inputs"]["client"] == client
    [row] = results["outputs"]["runs"]
    assert row["frames"] > 0 and row["failed_frames"] == 0
