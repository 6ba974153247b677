"""Bad input across the whole CLI: one line on stderr that names the problem, a non-zero exit,
never a traceback, and nothing started (no Locust, no load, no request off this machine).

The table covers every subcommand, the environment variables (GROUNDLIGHT_ENDPOINT,
GROUNDLIGHT_API_TOKEN, DISABLE_TLS_VERIFY), edge config files, simulator profiles and the logs
given to `edgeload report`. Commands run in this process through `edgeload.cli.main` (fast);
the throughput wrapper is stopped from spawning Locust, so a case that got that far fails
instead of running a load test. The locustfiles' own bad-input paths run as subprocesses at
the end (Locust prints its own start-up line there; ours is the single error line).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from edgeload import cli, runlog
from edgeload.reporting.results import RESULTS_SCHEMA_VERSION

REPO = Path(__file__).resolve().parent.parent
TOKEN = "api_BADINPUTbadinput0123456789token"


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


UNREACHABLE = f"http://127.0.0.1:{closed_port()}"
SIM_ENV = {"GROUNDLIGHT_ENDPOINT": None, "GROUNDLIGHT_API_TOKEN": None}


@dataclass
class Case:
    """argv (with {files} for the fixture folder), environment (None: unset), words that the
    error line must contain."""

    name: str
    argv: list[str]
    words: list[str]
    env: dict[str, str | None] = field(default_factory=lambda: dict(SIM_ENV))


def real(url: str | None = UNREACHABLE, token: str | None = TOKEN, **extra: str) -> dict:
    return {"GROUNDLIGHT_ENDPOINT": url, "GROUNDLIGHT_API_TOKEN": token, **extra}


TP = ["throughput", "BINARY"]
FPS = ["fps", "BINARY", "--warmup-iterations", "1", "--iterations", "1"]
LENSES = ["lenses", str(REPO / "configs" / "lenses-example.yaml"), "--duration", "1"]
EVC = ["edge-vs-cloud", "--sample", "2"]
RES = ["resources", "--matrix", str(REPO / "configs" / "resources-matrix.yaml")]
RUL = ["rollouts-under-load", "--connect-timeout", "1"]
MP = ["memory-pressure", "2", "BINARY", "--connect-timeout", "1", "--timeout", "5"]
RO = ["rollouts", "2", "--connect-timeout", "1", "--timeout", "5"]

CASES = [
    # -- the CLI itself and each subcommand's options
    Case("no subcommand", [], ["COMMAND"]),
    Case("unknown subcommand", ["bench-press"], ["bench-press"]),
    Case("throughput unknown mode", ["throughput", "SEGMENT"], ["SEGMENT", "BINARY, COUNT"]),
    Case("throughput zero clients", TP + ["--max-clients", "0"], ["--max-clients", "at least 1"]),
    Case("throughput clients not a number", TP + ["--max-clients", "ten"], ["--max-clients"]),
    Case(
        "throughput step above clients",
        TP + ["--max-clients", "2", "--step-size", "5"],
        ["--step-size", "--max-clients"],
    ),
    Case("throughput negative rate", TP + ["--requests-per-second", "-1"], ["--requests-per"]),
    Case("throughput zero width", TP + ["--image-width", "0"], ["--image-width"]),
    Case("throughput unknown client", TP + ["--client", "grpc"], ["grpc", "sdk, http"]),
    Case("throughput bad detector id", TP + ["--detector-id", "det_nope"], ["det_nope"]),
    Case("throughput bad --processes", TP + ["--processes", "0"], ["--processes"]),
    Case(
        "throughput one class",
        ["throughput", "MULTI_CLASS", "--num-classes", "1"],
        ["--num-classes", "at least 2"],
    ),
    Case(
        "throughput classes for BINARY",
        TP + ["--num-classes", "3"],
        ["--num-classes", "does not apply to BINARY"],
    ),
    Case(
        "throughput boxes for MULTI_CLASS",
        ["throughput", "MULTI_CLASS", "--max-num-bboxes", "3"],
        ["--max-num-bboxes", "MULTI_CLASS"],
    ),
    Case(
        "throughput boxes for COUNT",
        ["throughput", "COUNT", "--max-num-bboxes", "3"],
        ["--max-num-bboxes", "COUNT"],
    ),
    Case(
        "throughput too many boxes",
        ["throughput", "BOUNDING_BOX", "--max-num-bboxes", "51"],
        ["--max-num-bboxes", "at most 50"],
    ),
    Case("throughput classes not a number", TP + ["--num-classes", "three"], ["--num-classes"]),
    Case(
        "throughput pipeline config too long",
        TP + ["--edge-pipeline-config", "x" * 101],
        ["--edge-pipeline-config", "100 characters"],
    ),
    Case("fps unknown mode", ["fps", "MULTICLASS"], ["MULTICLASS"]),
    Case("fps zero iterations", ["fps", "BINARY", "--iterations", "0"], ["--iterations"]),
    Case("fps bad image size", ["fps", "BINARY", "--image-size", "640by480"], ["640by480"]),
    Case("fps unknown client", ["fps", "BINARY", "--client", "curl"], ["curl"]),
    Case("lenses without a config", ["lenses"], ["lens config", "CONFIG.yaml"]),
    Case("lenses missing config", ["lenses", "{files}/nope.yaml"], ["nope.yaml"]),
    Case("lenses zero duration", LENSES + ["--duration", "0"], ["--duration"]),
    Case("lenses unknown sim profile", LENSES + ["--sim-profile", "nope"], ["nope"]),
    Case("endpoint unreachable (lenses)", LENSES, ["cannot reach"], real()),
    Case("edge-vs-cloud zero sample", ["edge-vs-cloud", "--sample", "0"], ["--sample"]),
    Case("edge-vs-cloud agreement above 1", EVC + ["--min-agreement", "2"], ["--min-agreement"]),
    Case(
        "edge-vs-cloud cloud endpoint not a URL",
        EVC + ["--cloud-endpoint", "ftp://cloud"],
        ["--cloud-endpoint"],
    ),
    Case("endpoint unreachable (edge-vs-cloud)", EVC, ["cannot reach"], real()),
    Case("resources without a matrix", ["resources"], ["--matrix"]),
    Case("resources missing matrix", ["resources", "--matrix", "{files}/nope.yaml"], ["nope.yaml"]),
    Case("resources zero batch", RES + ["--batch-size", "0"], ["--batch-size"]),
    Case("resources resume of no run", ["resources", "--resume", "{files}"], ["--resume"]),
    Case("endpoint unreachable (resources)", RES, ["cannot reach"], real()),
    Case("rollouts-under-load zero rate", RUL + ["--requests-per-second", "0"], ["--requests"]),
    Case("rollouts-under-load zero rollouts", RUL + ["--min-rollouts", "0"], ["--min-rollouts"]),
    Case("rollouts-under-load bad --k8s", RUL + ["--k8s", "ftp://x"], ["--k8s"]),
    Case("memory-pressure zero detectors", ["memory-pressure", "0", "BINARY"], ["NUM_DETECTORS"]),
    Case("memory-pressure unknown mode", ["memory-pressure", "2", "SEG"], ["SEG"]),
    Case("memory-pressure threshold above 1", MP + ["--confidence-threshold", "2"], ["thresh"]),
    Case("memory-pressure bad --k8s", MP + ["--k8s", "ftp://x"], ["--k8s"]),
    Case("rollouts negative duration", RO + ["--duration", "-5"], ["--duration"]),
    Case("rollouts zero refresh hint", RO + ["--refresh-rate-hint", "0"], ["--refresh-rate-hint"]),
    Case("rollouts detectors not a number", ["rollouts", "many"], ["NUM_DETECTORS", "many"]),
    Case("compare missing runs", ["compare", "{files}/nope-a", "{files}/nope-b"], ["nope-a"]),
    Case(
        "history no readable run",
        ["history", "{files}/nope-a", "{files}/nope-b"],
        ["no readable run", "nope-a: no such folder"],
    ),
    Case("history bad tolerance", ["history", "{files}", "--tolerance", "ten"], ["--tolerance"]),
    Case("history negative tolerance", ["history", "{files}", "--tolerance", "-1"], ["at least 0"]),
    Case(
        "compare bad gate",
        ["compare", "{files}/results.json", "{files}/results.json", "--fail-on", "speed:fast"],
        ["speed"],
    ),
    Case("sim bad port", ["sim", "--port", "70000"], ["--port"]),
    Case("sim zero time scale", ["sim", "--port", "0", "--time-scale", "0"], ["time-scale"]),
    # -- environment variables
    Case("endpoint not a URL scheme", TP, ["http://"], real("ftp://edge:30101")),
    Case("endpoint empty", FPS, ["GROUNDLIGHT_ENDPOINT", "empty"], real("  ")),
    Case("endpoint without host", FPS, ["no host", "http://:30101"], real("http://:30101")),
    Case("endpoint bad port", TP, ["not a valid URL"], real("http://edge:port")),
    Case("endpoint is the cloud", TP, ["Groundlight cloud"], real("https://api.groundlight.ai")),
    Case("endpoint unreachable (throughput)", TP, ["cannot reach"], real()),
    Case("endpoint unreachable (fps)", FPS, ["cannot reach"], real()),
    Case("token missing", TP, ["GROUNDLIGHT_API_TOKEN", "not set"], real(token=None)),
    Case("token malformed", FPS, ["GROUNDLIGHT_API_TOKEN", "malformed"], real(token="short")),
    Case(
        "DISABLE_TLS_VERIFY=yes",
        TP,
        ["DISABLE_TLS_VERIFY", "1 or 0"],
        real(DISABLE_TLS_VERIFY="yes"),
    ),
    Case(
        "DISABLE_TLS_VERIFY=yes (rollouts)",
        RO,
        ["DISABLE_TLS_VERIFY"],
        real(DISABLE_TLS_VERIFY="yes"),
    ),
    Case(
        "--sim-profile with a real endpoint",
        MP + ["--sim-profile", "gpu-2x"],
        ["--sim-profile"],
        real(),
    ),
    Case(
        "--ca-bundle missing (throughput)",
        TP + ["--ca-bundle", "{files}/none.pem"],
        ["--ca-bundle"],
    ),
    Case("--ca-bundle missing (fps)", FPS + ["--ca-bundle", "{files}/none.pem"], ["--ca-bundle"]),
    Case(
        "--ca-bundle missing (rollouts)", RO + ["--ca-bundle", "{files}/none.pem"], ["--ca-bundle"]
    ),
    Case(
        "--ca-bundle not PEM",
        TP + ["--ca-bundle", "{files}/not-a-cert.pem"],
        ["CA bundle", "PEM"],
        real("https://127.0.0.1:1"),
    ),
    # -- edge config files
    Case("edge config missing", MP + ["--edge-config", "{files}/none.yaml"], ["none.yaml", "read"]),
    Case("edge config bad YAML", MP + ["--edge-config", "{files}/broken.yaml"], ["not valid YAML"]),
    Case("edge config a list", MP + ["--edge-config", "{files}/list.yaml"], ["mapping"]),
    Case("edge config invalid", MP + ["--edge-config", "{files}/invalid.yaml"], ["edge config"]),
    # -- simulator profiles (edgeload sim, the embedded simulator of a scenario)
    Case("sim unknown profile", ["sim", "--port", "0", "--profile", "nope"], ["nope", "available"]),
    Case("sim profile wrong type", ["sim", "--profile", "{files}/type.yaml"], ["pods.startup_s"]),
    Case(
        "sim profile negative", ["sim", "--profile", "{files}/negative.yaml"], ["service.base_ms"]
    ),
    Case("sim profile unknown key", ["sim", "--profile", "{files}/unknown.yaml"], ["gpus_please"]),
    Case("sim profile bad YAML", ["sim", "--profile", "{files}/broken.yaml"], ["YAML"]),
    Case("throughput unknown sim profile", TP + ["--sim-profile", "nope"], ["nope"]),
    Case(
        "throughput bad sim profile", TP + ["--sim-profile", "{files}/negative.yaml"], ["base_ms"]
    ),
    Case("fps unknown sim profile", FPS + ["--sim-profile", "nope"], ["nope"]),
    Case("rollouts unknown sim profile", RO + ["--sim-profile", "nope"], ["nope"]),
    # -- logs given to edgeload report
    Case("report missing folder", ["report", "{files}/no-such-run"], ["no such run folder"]),
    Case("report folder without log", ["report", "{files}/no-log"], ["no load_test.log"]),
    Case("report empty log", ["report", "{files}/empty"], ["empty"]),
    Case("report not JSON", ["report", "{files}/not-json"], ["line 1"]),
    Case("report unknown schema", ["report", "{files}/future"], ["schema_version"]),
    Case("report not an edgeload log", ["report", "{files}/foreign"], ["not an edgeload log"]),
    # -- numbers that are not numbers, products that overflow, contradictions (issue 11)
    Case("throughput infinite step", TP + ["--time-between-ramp", "inf"], ["finite"]),
    Case("throughput NaN rate", TP + ["--requests-per-second", "nan"], ["finite"]),
    Case("throughput infinite time scale", TP + ["--sim-time-scale", "inf"], ["--sim-time-scale"]),
    Case("throughput huge rate", TP + ["--requests-per-second", "1e308"], ["at most"]),
    Case(
        "throughput rate x clients overflow",
        TP + ["--requests-per-second", "90000", "--max-clients", "100000"],
        ["10,000,000"],
    ),
    Case(
        "throughput two load models",
        TP + ["--arrival-rate", "10", "--requests-per-second", "5"],
        ["--arrival-rate", "one of them"],
    ),
    Case("throughput empty detector ids", TP + ["--detector-id", ",,,"], ["--detector-id"]),
    Case("throughput 1000 processes", TP + ["--processes", "1000"], ["--processes", "CPUs"]),
    Case("throughput unwritable output", TP + ["--output-dir", "/proc/edgeload"], ["writ"]),
    Case("throughput bad gate", TP + ["--fail-if", "latency_p95_ms>"], ["--fail-if"]),
    Case("throughput gate on no metric", TP + ["--fail-if", "speed>1"], ["speed"]),
    Case("throughput bad SLO", TP + ["--latency-slo", "p95"], ["--latency-slo"]),
    Case("sim infinite time scale", ["sim", "--port", "0", "--time-scale", "inf"], ["finite"]),
    Case("sim bad admin port", ["sim", "--k8s-port", "-1"], ["--k8s-port"]),
    Case("report ok column of words", ["report", "{files}/ok-words"], ["line 2", "wrong type"]),
    Case("report error column of numbers", ["report", "{files}/error-ints"], ["line 2"]),
    Case("report deeply nested line", ["report", "{files}/nested"], ["line 2"]),
    Case("report columns of different lengths", ["report", "{files}/ragged"], ["line 2"]),
    Case(
        "compare a NaN figure",
        ["compare", "{files}/results.json", "{files}/nan-results.json"],
        ["nan-results.json", "NaN"],
    ),
    Case(
        "compare an infinite figure",
        ["compare", "{files}/inf-results.json", "{files}/results.json"],
        ["inf-results.json", "Infinity"],
    ),
    Case("locust arguments to report", ["report", "{files}/empty", "--", "--html", "x"], ["--"]),
]


_END = json.dumps({"type": "end", "t": 3.0, "status": "completed", "reason": ""}) + "\n"


def _log_with_requests(**columns) -> str:
    """A log whose second line is a requests batch with these (bad) columns; without
    columns, only the header."""
    header = {
        "type": "header",
        "schema_version": runlog.SCHEMA_VERSION,
        "scenario": "throughput",
        "inputs": {},
        "metadata": {},
    }
    if not columns:
        return json.dumps(header) + "\n"
    batch = {"type": "requests", "n": 2, "t": [1.0, 2.0], "latency_ms": [1, 2], "ok": [1, 1]}
    batch |= {"status": [200, 200], "detector": ["d", "d"], "clients": [1, 1], "step": [0, 0]}
    return json.dumps(header) + "\n" + json.dumps(batch | columns) + "\n" + _END


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("bad-input")
    (d / "not-a-cert.pem").write_text("this is not a certificate\n")
    (d / "broken.yaml").write_text("detectors: [unclosed\n")
    (d / "list.yaml").write_text("- one\n- two\n")
    (d / "invalid.yaml").write_text("global_config:\n  refresh_rate: soon\n")
    (d / "type.yaml").write_text("pods:\n  startup_s: soon\n")
    (d / "negative.yaml").write_text("service:\n  base_ms: -5\n")
    (d / "unknown.yaml").write_text("box:\n  gpus_please: 3\n")
    (d / "results.json").write_text(
        json.dumps(
            {
                "schema_version": RESULTS_SCHEMA_VERSION,
                "scenario": "throughput",
                "status": "completed",
                "verdict": "pass",
                "exit_code": 0,
                "inputs": {},
                "outputs": {"summary": {}},
                "checks": [],
            }
        )
    )
    good = json.loads((d / "results.json").read_text())
    for name, value in (("nan", "NaN"), ("inf", "Infinity")):
        body = json.dumps({**good, "outputs": {"summary": {"maximum_rps": 1.5}}}, indent=1)
        (d / f"{name}-results.json").write_text(body.replace("1.5", value))
    (d / "no-log").mkdir()
    for name, text in {
        "empty": "",
        "not-json": "this is not JSON\n",
        "future": json.dumps({"type": runlog.HEADER, "schema_version": 999}) + "\n",
        "foreign": json.dumps({"level": "info", "msg": "some other tool"}) + "\n",
        "ok-words": _log_with_requests(ok="yes"),
        "error-ints": _log_with_requests(ok=[0, 0], error=[5, {"x": 1}]),
        "nested": _log_with_requests() + "[" * 100_000 + "]" * 100_000 + "\n" + _END,
        "ragged": _log_with_requests(latency_ms=[1.0, 2.0, 3.0], status=[200]),
    }.items():
        (d / name).mkdir()
        (d / name / runlog.LOG_FILENAME).write_text(text)
    return d


@pytest.fixture
def no_locust(monkeypatch):
    """The throughput wrapper must refuse before it would start Locust."""
    import edgeload.scenarios.throughput.command as throughput

    def refuse(*args, **kwargs):
        raise AssertionError(f"bad input reached Locust: {args[0] if args else kwargs}")

    monkeypatch.setattr(throughput, "subprocess", types.SimpleNamespace(Popen=refuse))


def run_main(argv: list[str], env: dict, monkeypatch, capsys) -> tuple[int, str, str]:
    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, out: str, err: str, words: list[str]) -> str:
    assert code not in (0, None), f"exit {code}; stdout: {out!r}"
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one stderr line, got: {err!r}"
    line = lines[0]
    assert "error" in line
    for word in words:
        assert word.lower() in line.lower(), f"{word!r} not in {line!r}"
    return line


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_gets_one_line_and_a_non_zero_exit(case, files, no_locust, monkeypatch, capsys):
    argv = [arg.replace("{files}", str(files)) for arg in case.argv]
    monkeypatch.chdir(files)  # nothing a case might write lands in the repo
    code, out, err = run_main(argv, case.env, monkeypatch, capsys)
    assert_one_line_error(code, out, err, case.words)
    assert TOKEN not in out + err


def test_the_table_is_large_and_covers_every_subcommand():
    assert len(CASES) >= 20
    first_words = {c.argv[0] for c in CASES if c.argv}
    assert set(cli.SUBCOMMANDS) <= first_words


# -- the locustfiles, run by Locust itself ------------------------------------------------------


def locust(locustfile: str, *args: str, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GROUNDLIGHT_")}
    full_env.update({k: v for k, v in env.items() if v is not None})
    command = [sys.executable, "-m", "locust", "-f", str(REPO / "locustfiles" / locustfile)]
    return subprocess.run(
        command + ["--headless", *args],
        env=full_env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def our_error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    """stderr without Locust's own log lines ([date] host/LEVEL/locust...)."""
    return [
        line
        for line in proc.stderr.splitlines()
        if line.strip() and not (line.startswith("[") and "/locust." in line)
    ]


@pytest.mark.parametrize(
    "locustfile, args, env, word",
    [
        ("throughput.py", ["--max-clients", "0"], {}, "--max-clients"),
        ("throughput.py", [], real("https://edge.groundlight.ai"), "Groundlight cloud"),
        ("fps.py", ["--iterations", "0"], {}, "--iterations"),
        ("throughput.py", ["--num-classes", "3"], {}, "--num-classes"),
    ],
    ids=[
        "throughput bad option",
        "throughput cloud endpoint",
        "fps bad option",
        "throughput size for BINARY",
    ],
)
def test_locustfiles_refuse_bad_input_before_any_load(locustfile, args, env, word, tmp_path):
    proc = locust(locustfile, *args, env=env, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = our_error_lines(proc)
    assert len(lines) == 1 and "error" in lines[0] and word in lines[0], proc.stderr
    assert not any(tmp_path.iterdir()), "no run folder for a run that never started"
