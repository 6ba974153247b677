"""A real box is never mistaken for edgeload's simulator.

A real edge endpoint's nginx forwards paths it does not serve to its cloud, so `/_sim/state`
can get an answer from a real box. Here a forwarding server stands in front of the simulator
and passes every path on, `/_sim/` included: edgeload must still treat the endpoint as real
(it started no simulator and the user did not say it is one), and never ask it a `/_sim/` path.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from forwarding_proxy import ForwardingProxy
from test_throughput_run import child_env, only_run_dir

from edgeload import verdict
from edgeload.scenarios.resources import nvml
from edgeload.sim import DEMO_TOKEN, SimulatedEndpoint

SMALL = ["--image-width", "64", "--image-height", "48"]


@pytest.fixture(scope="module")
def proxied_sim():
    with SimulatedEndpoint("demo") as sim, ForwardingProxy(sim.url) as proxy:
        # the proxy does pass /_sim/ on: what a real box whose cloud answers would do
        assert json.loads(_get(proxy.url + "/_sim/state"))
        proxy.requests.clear()
        yield sim, proxy


def _get(url: str) -> bytes:
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.read()


def _env(proxy: ForwardingProxy) -> dict:
    env = child_env()
    env["GROUNDLIGHT_ENDPOINT"] = proxy.url
    env["GROUNDLIGHT_API_TOKEN"] = DEMO_TOKEN
    return env


def _results(out: Path) -> dict:
    return json.loads((only_run_dir(out) / "load_test_results.json").read_text())


def test_throughput_through_a_forwarding_box_is_a_real_target(proxied_sim, tmp_path):
    _, proxy = proxied_sim
    command = [sys.executable, "-m", "edgeload.cli", "throughput", "BINARY", *SMALL]
    command += ["--client", "http", "--max-clients", "1", "--time-between-ramp", "3"]
    run = subprocess.run(
        [*command, "--output-dir", str(tmp_path)],
        env=_env(proxy),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == verdict.EXIT_PASS, run.stdout[-2000:] + run.stderr[-2000:]
    results = _results(tmp_path)
    assert results["target"]["kind"] == "real"
    assert results["target"]["url"] == proxy.url
    assert not results["target"].get("started_by_edgeload")
    assert run.stdout.startswith(f"edgeload: target: real edge endpoint at {proxy.url}") or (
        "real" in run.stdout.splitlines()[0]
    ), run.stdout[:500]
    assert proxy.paths_starting("/device-api/v1/image-queries")  # the load went through it
    assert proxy.paths_starting("/_sim/") == []


@pytest.mark.parametrize(
    "command",
    [
        ["memory-pressure", "1", "BINARY"],
        ["rollouts", "1", "--detector-mode", "BINARY"],
    ],
    ids=["memory-pressure", "rollouts"],
)
def test_pod_scenarios_through_a_forwarding_box_observe_no_pods(proxied_sim, tmp_path, command):
    """No Kubernetes API is known for a real endpoint (none given, none in a kubeconfig), so
    the pod checks are not_observed and the verdict inconclusive: never a pass."""
    _, proxy = proxied_sim
    env = _env(proxy)
    env["KUBECONFIG"] = str(tmp_path / "no-kubeconfig")
    run = subprocess.run(
        [sys.executable, "-m", "edgeload.cli", *command, "--output-dir", str(tmp_path / "out")],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    results = _results(tmp_path / "out")
    assert results["target"]["kind"] == "real", run.stdout[-2000:]
    assert proxy.paths_starting("/_sim/") == []
    by_name = {c["name"]: c for c in results["checks"]}
    for name in ("no pod restarts", "no OOMKilled pods", "no Pending pods"):
        assert by_name[name]["status"] == "not_observed", by_name[name]
    assert results["verdict"] != "pass"
    assert run.returncode != verdict.EXIT_PASS, run.stdout[-2000:]


def _run_real(proxy: ForwardingProxy, tmp_path: Path, *args: str, timeout: float = 240):
    env = _env(proxy)
    env["KUBECONFIG"] = str(tmp_path / "no-kubeconfig")  # no cluster known: as on a laptop
    run = subprocess.run(
        [sys.executable, "-m", "edgeload.cli", *args, "--output-dir", str(tmp_path / "out")],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    results = _results(tmp_path / "out")
    assert results["target"]["kind"] == "real", run.stdout[-2000:] + run.stderr[-2000:]
    assert results["target"]["url"] == proxy.url
    assert proxy.paths_starting("/_sim/") == []
    return run, results


def test_edge_vs_cloud_through_a_forwarding_box_compares_real_answers(proxied_sim, tmp_path):
    _, proxy = proxied_sim
    run, results = _run_real(
        proxy, tmp_path, "edge-vs-cloud", "--sample", "4", "--image-size", "64x48"
    )
    assert run.returncode == verdict.EXIT_PASS, run.stdout[-2000:] + run.stderr[-2000:]
    assert results["outputs"]["summary"]["compared_images"] == 4
    # both sides went through the box: the edge's own answers and the cloud's, forwarded
    assert proxy.paths_starting("/device-api/v1/image-queries")


def test_resources_through_a_forwarding_box_read_the_status_page_only(proxied_sim, tmp_path):
    """No Kubernetes API is known: the pod figures are not reported (never 0); the endpoint's
    own per-detector figures (its status page, forwarded) are what is measured."""
    _, proxy = proxied_sim
    matrix = tmp_path / "matrix.yaml"
    matrix.write_text("BINARY:\n  image_sizes: [64x48]\n")
    run, results = _run_real(proxy, tmp_path, "resources", "--matrix", str(matrix))
    assert run.returncode == verdict.EXIT_PASS, run.stdout[-2000:] + run.stderr[-2000:]
    [row] = results["outputs"]["results"]
    assert row["status"] == "measured" and row["vram_source"] == "endpoint"
    assert row["vram_bytes"] > 0
    # a real endpoint on this machine: NVML figures would be its own (none here: no GPU)
    assert row["nvml_vram_note"] not in (nvml.REMOTE, nvml.SIMULATED)
    assert row["nvml_vram_delta_bytes"] is not None or row["nvml_vram_note"]
    assert proxy.paths_starting("/status/resources.json")


def test_rollouts_under_load_through_a_forwarding_box_is_inconclusive(proxied_sim, tmp_path):
    """Rollouts are Deployment revisions: with no Kubernetes API none can be seen, so the run
    is inconclusive (exit 4), never a pass for zero observed rollouts."""
    _, proxy = proxied_sim
    run, results = _run_real(
        proxy, tmp_path, "rollouts-under-load", "--image-size", "64x48", "--client", "http",
        "--error-free-s", "2", "--timeout", "20",
    )  # fmt: skip
    assert run.returncode == verdict.EXIT_INCONCLUSIVE, run.stdout[-2000:] + run.stderr[-2000:]
    by_name = {c["name"]: c for c in results["checks"]}
    assert by_name["enough rollouts"]["status"] == "not_observed"
    assert results["outputs"]["load"]["requests"] > 0


def test_lenses_through_a_forwarding_box_measure_frames(proxied_sim, tmp_path):
    _, proxy = proxied_sim
    config = tmp_path / "lenses.yaml"
    lens = {"name": "door", "type": "single_binary", "image_size": [64, 48], "target_fps": 10}
    config.write_text(json.dumps({"lenses": [lens]}))  # JSON is YAML
    run, results = _run_real(proxy, tmp_path, "lenses", str(config), "--duration", "2")
    assert run.returncode == verdict.EXIT_PASS, run.stdout[-2000:] + run.stderr[-2000:]
    [row] = results["outputs"]["runs"]
    assert row["frames"] > 0 and row["failed_frames"] == 0


EDGE_ONLY = str(
    Path(__file__).resolve().parents[1] / "configs" / "edge-config-rollouts-under-load.yaml"
)


@pytest.mark.parametrize("label_in_cloud", [False, True], ids=["through-the-box", "cloud"])
def test_rollouts_under_load_with_an_edge_only_config_labels_in_the_cloud(
    proxied_sim, tmp_path, label_in_cloud
):
    """Upstream's edge config makes the detector edge-only: the box then refuses the async
    queries that labels go through. Without --cloud-endpoint no label lands and the run says
    why; with it, labels go to the cloud directly (never to a /_sim/ path)."""
    sim, proxy = proxied_sim
    extra = ["--cloud-endpoint", sim.cloud_url] if label_in_cloud else []
    run, results = _run_real(
        proxy, tmp_path, "rollouts-under-load", "--image-size", "64x48", "--client", "http",
        "--error-free-s", "3", "--timeout", "20", "--label-interval", "1",
        "--edge-config", EDGE_ONLY, *extra,
    )  # fmt: skip
    assert run.returncode == verdict.EXIT_INCONCLUSIVE, run.stdout[-2000:] + run.stderr[-2000:]
    labels = results["outputs"]["labels"]
    warned = [w["code"] for w in results["warnings"]]
    if label_in_cloud:
        assert labels["sent"] > 0 and "labels_failed" not in warned
    else:
        assert labels["sent"] == 0 and labels["failed"] > 0 and "labels_failed" in warned
    assert "PUT /edge-config" in results["outputs"]["edge_config"]["applied"]
