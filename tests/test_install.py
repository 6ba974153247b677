"""The wheel alone is enough: built from this checkout, installed into a fresh virtual
environment outside the source tree, `edgeload` finds its profiles and locustfiles and runs.

uv works offline here: what it needs (hatchling, the dependencies) is in its cache from the
`uv sync` that set up this checkout, so the test needs no network."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
UV = os.environ.get("UV") or shutil.which("uv")

pytestmark = pytest.mark.skipif(UV is None, reason="uv is not on this machine (run under uv run)")


def clean_env(venv: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GROUNDLIGHT_", "VIRTUAL_"))}
    env.pop("PYTHONPATH", None)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv with only the wheel (and its dependencies) installed."""
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [UV, "build", "--offline", "--wheel", "--out-dir", str(work / "dist"), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = (work / "dist").glob("edgeload-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    # package data travels inside the package, and no generic top-level name is installed
    assert "edgeload/configs/profiles/demo.yaml" in names
    assert "edgeload/locustfiles/throughput.py" in names
    assert "edgeload/reporting/report.py" in names and "edgeload/shapes/step_ramp.py" in names
    assert not [n for n in names if n.split("/")[0] in ("reporting", "shapes", "configs")]
    venv = work / "venv"
    subprocess.run(
        [UV, "venv", "--python", sys.executable, str(venv)], check=True, capture_output=True
    )
    python = str(venv / "bin" / "python")
    # the locked dependencies by their URLs (uv's cache holds them since `uv sync`; a plain
    # `uv pip install wheel` would need index pages that `uv sync` never fetched), then the
    # wheel alone, and a check that the wheel's own requirements are all met
    lock = work / "pylock.toml"
    subprocess.run(
        [
            UV,
            "export",
            "--frozen",
            "--no-dev",
            "--no-emit-project",
            "--format",
            "pylock.toml",
            "-o",
            str(lock),
            "--project",
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    for args in (["-r", str(lock)], ["--no-deps", str(wheel)]):
        subprocess.run(
            [UV, "pip", "install", "--offline", "--python", python, *args],
            check=True,
            capture_output=True,
        )
    subprocess.run([UV, "pip", "check", "--python", python], check=True, capture_output=True)
    return venv


def test_the_installed_command_lists_the_profiles(installed, tmp_path):
    result = subprocess.run(
        [str(installed / "bin" / "edgeload"), "sim", "--list-profiles"],
        cwd=tmp_path,
        env=clean_env(installed),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines() if line.strip()]
    assert {"demo", "gpu-1x", "fast-rollouts"} <= set(names)
    version = subprocess.run(
        [str(installed / "bin" / "python"), "-c", "import edgeload; print(edgeload.__version__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert version.stdout.strip()[0].isdigit() and "unknown" not in version.stdout


def test_the_installed_command_runs_a_short_throughput_test(installed, tmp_path):
    result = subprocess.run(
        [
            str(installed / "bin" / "edgeload"),
            "throughput",
            "BINARY",
            "--max-clients",
            "1",
            "--time-between-ramp",
            "2",
            "--requests-per-second",
            "5",
            "--system-sample-interval-seconds",
            "1",
            "--output-dir",
            str(tmp_path / "runs"),
        ],  # fmt: skip
        cwd=tmp_path,
        env=clean_env(installed),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert run_dir.name.endswith("-throughput")
    results = json.loads((run_dir / "load_test_results.json").read_text())
    assert results["scenario"] == "throughput" and results["verdict"] == "pass"
    assert results["outputs"]["summary"]["requests"] > 0
    assert (run_dir / "latency_vs_throughput.png").stat().st_size > 0
