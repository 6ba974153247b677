"""The container image and the Kubernetes manifests, checked offline (no registry, no cluster).

Each manifest in configs/kubernetes/ is deserialized into the kubernetes client's models
(V1Job, V1Deployment, V1Service, V1Secret, ...), which validate required fields, and serialized
back: a misspelt field would be dropped on the way and show as a difference. Then what makes the
pieces work together: the image, the commands, the endpoint and token from the Secret, the
master's port behind the Service, selectors matching labels. The Dockerfile is parsed: its base
image, the install from the committed lock file, the entry point."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml
from kubernetes.client import ApiClient

REPO = Path(__file__).resolve().parent.parent
MANIFESTS = REPO / "configs" / "kubernetes"
SECRET_ENV = ("GROUNDLIGHT_ENDPOINT", "GROUNDLIGHT_API_TOKEN")
MODELS = {
    ("v1", "Namespace"): "V1Namespace",
    ("v1", "Secret"): "V1Secret",
    ("v1", "Service"): "V1Service",
    ("v1", "PersistentVolumeClaim"): "V1PersistentVolumeClaim",
    ("batch/v1", "Job"): "V1Job",
    ("apps/v1", "Deployment"): "V1Deployment",
}


def documents() -> list[tuple[str, dict]]:
    """(file name, document) of every manifest, the Secret's example included."""
    files = sorted(MANIFESTS.glob("*.yaml")) + [MANIFESTS / "secret.yaml.example"]
    found = []
    for path in files:
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc:
                found.append((path.name, doc))
    return found


def deserialize(doc: dict):
    """The document as its kubernetes client model (raises ValueError on a missing required
    field), the way the client reads an API server's answer."""
    model = MODELS[(doc["apiVersion"], doc["kind"])]
    return ApiClient()._ApiClient__deserialize(doc, model)  # noqa: SLF001 - offline only


def objects() -> dict[str, object]:
    return {doc["kind"]: deserialize(doc) for _, doc in documents()}


def _clean(value):
    """A serialized value without the None-valued keys and empty collections the models add."""
    if isinstance(value, dict):
        kept = {k: _clean(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


@pytest.mark.parametrize("name,doc", documents(), ids=[n for n, _ in documents()])
def test_each_manifest_is_a_valid_model_and_loses_nothing(name, doc):
    obj = deserialize(doc)
    back = ApiClient().sanitize_for_serialization(obj)
    # int-or-string fields (targetPort) and quantities come back as they went in
    assert _clean(back) == _clean(doc), f"{name}: a field the model does not know was dropped"
    assert obj.metadata.labels["app.kubernetes.io/name"] == "edgeload"
    if doc["kind"] != "Namespace":
        assert obj.metadata.namespace == "edgeload"


def test_every_kind_is_there_once():
    kinds = sorted(doc["kind"] for _, doc in documents())
    assert kinds == sorted(
        ["Namespace", "Secret", "Service", "PersistentVolumeClaim", "Job", "Deployment"]
    )


def _env_from_secret(container, secret_name: str) -> None:
    env = {e.name: e for e in container.env}
    for name in SECRET_ENV:
        ref = env[name].value_from.secret_key_ref
        assert env[name].value is None, f"{name} must not be a literal"
        assert (ref.name, ref.key) == (secret_name, name)


def test_master_job_runs_the_ramp_as_master_with_the_secret():
    o = objects()
    job, secret, service = o["Job"], o["Secret"], o["Service"]
    pod = job.spec.template.spec
    (master,) = pod.containers
    assert master.image.startswith("edgeload:") and pod.restart_policy == "Never"
    assert job.spec.backoff_limit == 0
    argv = [*master.command, *master.args]
    assert argv[:3] == ["edgeload", "throughput", "BINARY"]
    locust_args = argv[argv.index("--") + 1 :]
    assert "--master" in locust_args and "--worker" not in locust_args
    expected = int(locust_args[locust_args.index("--expect-workers") + 1])
    assert expected == o["Deployment"].spec.replicas
    _env_from_secret(master, secret.metadata.name)
    # the master listens where the Service sends the workers
    (port,) = master.ports
    (svc_port,) = service.spec.ports
    assert port.container_port == svc_port.port == 5557
    assert svc_port.target_port == port.name
    # the Service selects the master's pod (and only it)
    labels = job.spec.template.metadata.labels
    assert service.spec.selector.items() <= labels.items()
    assert (
        not service.spec.selector.items() <= o["Deployment"].spec.template.metadata.labels.items()
    )
    # results outlive the pod
    out = argv[argv.index("--output-dir") + 1]
    (mount,) = master.volume_mounts
    assert mount.mount_path == out
    (volume,) = [v for v in pod.volumes if v.name == mount.name]
    assert volume.persistent_volume_claim.claim_name == o["PersistentVolumeClaim"].metadata.name
    assert master.resources.requests and master.resources.limits


def test_workers_connect_to_the_master_service_with_the_secret():
    o = objects()
    deployment, secret, service = o["Deployment"], o["Secret"], o["Service"]
    spec = deployment.spec
    assert spec.replicas >= 1
    assert spec.selector.match_labels.items() <= spec.template.metadata.labels.items()
    (worker,) = spec.template.spec.containers
    assert worker.image == o["Job"].spec.template.spec.containers[0].image
    argv = [*worker.command, *worker.args]
    assert argv[0] == "locust" and "--worker" in argv and "--master" not in argv
    assert argv[argv.index("-f") + 1] == "locustfiles/throughput.py"
    assert (REPO / "locustfiles" / "throughput.py").is_file()
    assert argv[argv.index("--master-host") + 1] == service.metadata.name
    assert int(argv[argv.index("--master-port") + 1]) == service.spec.ports[0].port
    _env_from_secret(worker, secret.metadata.name)
    limits, requests = worker.resources.limits, worker.resources.requests
    assert limits["cpu"] and limits["memory"] and requests["cpu"] and requests["memory"]


def test_the_secret_example_holds_no_token_and_is_not_applied():
    secret = objects()["Secret"]
    assert set(secret.string_data) == set(SECRET_ENV)
    assert not re.search(r"api_[A-Za-z0-9]{8,}", json.dumps(secret.string_data))
    # `kubectl apply -f configs/kubernetes/` reads .yaml/.yml/.json files only
    assert not (MANIFESTS / "secret.yaml").exists()
    for path in MANIFESTS.glob("*.yaml"):
        assert "GROUNDLIGHT_API_TOKEN:" not in path.read_text()


# ---- the Dockerfile ----------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments out."""
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    lines, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        current += " " + line.removesuffix("\\").strip()
        if not line.endswith("\\"):
            instruction, _, rest = current.strip().partition(" ")
            lines.append((instruction.upper(), rest.strip()))
            current = ""
    return lines


def test_dockerfile_installs_the_locked_dependencies_on_python_3_11_slim():
    steps = dockerfile()
    froms = [args for instruction, args in steps if instruction == "FROM"]
    assert froms == ["python:3.11-slim"]
    runs = [args for instruction, args in steps if instruction == "RUN"]
    assert any(re.search(r"pip install .*\buv==\d", r) for r in runs)
    syncs = [shlex.split(r) for r in runs if "uv sync" in r]
    assert syncs and all("--frozen" in s and "--no-dev" in s for s in syncs)
    # the lock file is in the image before the first sync
    order = [(i, a) for i, a in steps if i in ("COPY", "RUN")]
    first_sync = next(n for n, (i, a) in enumerate(order) if i == "RUN" and "uv sync" in a)
    copied = " ".join(a for i, a in order[:first_sync] if i == "COPY").split()
    assert "uv.lock" in copied and "pyproject.toml" in copied
    assert (REPO / "uv.lock").is_file()


def test_dockerfile_entry_point_is_edgeload_and_locust_is_on_path():
    steps = dict((i, a) for i, a in dockerfile())
    assert json.loads(steps["ENTRYPOINT"]) == ["edgeload"]
    assert "/app/.venv/bin" in steps["ENV"] or any(
        "/app/.venv/bin" in a for i, a in dockerfile() if i == "ENV"
    )
    assert any(i == "USER" and a not in ("root", "0") for i, a in dockerfile())
    assert "5557" in steps["EXPOSE"].split()


def test_dockerignore_keeps_local_state_out_of_the_image():
    ignored = {
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", "load_tests"} <= ignored
    assert "uv.lock" not in ignored and "locustfiles" not in ignored


def test_the_round_trip_catches_a_misspelt_field():
    (doc,) = [d for _, d in documents() if d["kind"] == "Job"]
    container = doc["spec"]["template"]["spec"]["containers"][0]
    broken = json.loads(json.dumps(doc))
    broken["spec"]["template"]["spec"]["containers"][0]["evn"] = container["env"]
    del broken["spec"]["template"]["spec"]["containers"][0]["env"]
    back = ApiClient().sanitize_for_serialization(deserialize(broken))
    assert _clean(back) != _clean(broken)
    nameless = json.loads(json.dumps(doc))
    del nameless["spec"]["template"]["spec"]["containers"][0]["name"]
    with pytest.raises(ValueError):
        deserialize(nameless)


# ---- the manifests' own commands, run here -------------------------------------------------------


def _set(argv: list[str], flag: str, value: str) -> list[str]:
    """argv with flag's value replaced (the flag must be there)."""
    argv = list(argv)
    argv[argv.index(flag) + 1] = value
    return argv


def test_the_manifests_commands_run_a_distributed_ramp_here(tmp_path):
    """The Job's and the Deployment's command lines, as written, run against a simulator on
    127.0.0.1, with the Secret's two variables in the environment: a shorter ramp, two
    workers, the Service's name and the results volume swapped for local ones."""
    import subprocess
    import sys

    from test_throughput_run import child_env, free_port

    from edgeload.sim import DEMO_TOKEN, SimulatedEndpoint

    o = objects()
    master = o["Job"].spec.template.spec.containers[0]
    worker = o["Deployment"].spec.template.spec.containers[0]
    port = str(free_port())
    out = tmp_path / "results"
    m_argv = [*master.command, *master.args]
    assert m_argv[0] == "edgeload"
    m_argv = [sys.executable, "-m", "edgeload.cli", *m_argv[1:]]
    for flag, value in (
        ("--max-clients", "2"),
        ("--step-size", "1"),
        ("--time-between-ramp", "3"),
        ("--output-dir", str(out)),
        ("--expect-workers", "2"),
        ("--expect-workers-max-wait", "60"),
    ):
        m_argv = _set(m_argv, flag, value)
    cut = m_argv.index("--")
    m_argv[cut:cut] = ["--image-width", "64", "--image-height", "48", "--client", "http"]
    m_argv += ["--master-bind-host", "127.0.0.1", "--master-bind-port", port]
    w_argv = [*worker.command, *worker.args]
    assert w_argv[0] == "locust"
    w_argv = [sys.executable, "-m", "locust", *w_argv[1:]]
    w_argv = _set(_set(w_argv, "--master-host", "127.0.0.1"), "--master-port", port)
    processes: list[subprocess.Popen] = []
    try:
        with SimulatedEndpoint("zero-latency", time_scale=20) as sim:
            env = child_env()
            secret = {"GROUNDLIGHT_ENDPOINT": sim.url, "GROUNDLIGHT_API_TOKEN": DEMO_TOKEN}
            env.update({k: secret[k] for k in SECRET_ENV})
            run = subprocess.Popen(
                m_argv, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            processes.append(run)
            for _ in range(2):  # from the image's working folder, as in the Deployment
                processes.append(
                    subprocess.Popen(
                        w_argv,
                        env=env,
                        cwd=REPO,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )  # fmt: skip
                )
            stdout, stderr = run.communicate(timeout=240)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)
    assert run.returncode == 0, stdout[-3000:] + stderr[-3000:]
    (run_dir,) = out.iterdir()
    results = json.loads((run_dir / "load_test_results.json").read_text())
    assert results["target"]["kind"] == "real" and results["verdict"] == "pass"
    assert results["inputs"]["distributed"] is True
    workers = {
        json.loads(line)["worker"]
        for line in (run_dir / "load_test.log").read_text().splitlines()
        if '"type":"requests"' in line
    }
    assert len(workers) == 2, workers
    assert (run_dir / "report.html").is_file() and (run_dir / "steps.csv").is_file()
