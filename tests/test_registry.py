"""Every scenario in the registry is a whole scenario: its command, analysis and plots modules
have what the pipeline calls, `--help` works, the README documents it, and the suite's
cross-cutting tests (the token never shown, TLS, signals to the process group) cover it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from test_throughput_run import child_env

from edgeload.reporting.metrics import Metric
from edgeload.scenarios import SCENARIOS

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_a_scenarios_modules_have_what_the_pipeline_calls(name):
    scenario = SCENARIOS[name]
    command, analysis, plots = scenario.command, scenario.analysis, scenario.plots
    assert isinstance(command.HELP, str) and command.HELP
    assert callable(command.add_arguments) and callable(command.run)
    assert callable(analysis.analyze) and callable(analysis.summary_lines)
    assert isinstance(analysis.KEEP_REQUESTS, bool)
    assert analysis.RUN_METRICS and all(isinstance(m, Metric) for m in analysis.RUN_METRICS)
    for table in getattr(analysis, "CSV_TABLES", ()):
        assert isinstance(table, str) and table
    assert plots.PLOTS and all(
        file.endswith(".png") and callable(draw) for file, draw in plots.PLOTS.items()
    )


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_command_has_help_and_a_readme_section(name):
    proc = subprocess.run(
        [sys.executable, "-m", "edgeload.cli", name, "--help"],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and proc.stdout.startswith("usage: edgeload " + name), proc.stderr
    assert "--output-dir" in proc.stdout and "--fail-if" in proc.stdout
    assert f"edgeload {name}" in (REPO / "README.md").read_text()


def test_the_cross_cutting_tests_cover_every_scenario():
    import test_faults_group_signals
    import test_security
    import test_tls

    registry = set(SCENARIOS)
    assert set(test_security.SCENARIOS) == registry  # the token is never shown
    assert set(test_tls.SCENARIOS) == registry  # a certificate problem is one line
    # a signal to the process group ends the log and writes a report: every scenario but
    # throughput, whose signals have a file of their own (test_faults_signals)
    assert set(test_faults_group_signals.SCENARIOS) == registry - {"throughput"}
