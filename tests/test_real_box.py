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
