"""The four scenarios, one folder each, over the shared core modules in `edgeload/`.

Each scenario folder holds its options (`options.py`), its run (`run.py` and helpers), its
command (`command.py`: `HELP`, `add_arguments`, `run`) and its analysis (`analysis.py`: pure,
from the log to the results; it declares the scenario's metric table). Its plots live in
`edgeload/reporting/plots/`. This registry names those modules; they are imported only when
needed, so `edgeload report` never imports locust or gevent.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from edgeload.errors import ResultsError


@dataclass(frozen=True)
class Scenario:
    name: str  # as on the command line and in the log header
    command_module: str  # HELP, add_arguments(parser), run(args) -> exit code
    analysis_module: str  # analyze(log) -> ScenarioAnalysis, METRICS, KEEP_REQUESTS
    plots_module: str  # PLOTS: {file name: draw(analysis) -> Figure}

    @property
    def command(self) -> ModuleType:
        return importlib.import_module(self.command_module)

    @property
    def analysis(self) -> ModuleType:
        return importlib.import_module(self.analysis_module)

    @property
    def plots(self) -> ModuleType:
        return importlib.import_module(self.plots_module)


_PKG = "edgeload.scenarios"
SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "throughput",
            f"{_PKG}.throughput.command",
            f"{_PKG}.throughput.analysis",
            "edgeload.reporting.plots.throughput",
        ),
        Scenario(
            "fps", f"{_PKG}.fps.command", f"{_PKG}.fps.analysis", "edgeload.reporting.plots.fps"
        ),
        # the two pod scenarios share one analysis and one set of plots
        Scenario(
            "memory-pressure",
            f"{_PKG}.memory_pressure.command",
            f"{_PKG}.pods.analysis",
            "edgeload.reporting.plots.pods",
        ),
        Scenario(
            "rollouts",
            f"{_PKG}.rollouts.command",
            f"{_PKG}.pods.analysis",
            "edgeload.reporting.plots.pods",
        ),
        Scenario(
            "edge-vs-cloud",
            f"{_PKG}.edge_vs_cloud.command",
            f"{_PKG}.edge_vs_cloud.analysis",
            "edgeload.reporting.plots.edge_vs_cloud",
        ),
        Scenario(
            "resources",
            f"{_PKG}.resources.command",
            f"{_PKG}.resources.analysis",
            "edgeload.reporting.plots.resources",
        ),
        Scenario(
            "rollouts-under-load",
            f"{_PKG}.rollouts_under_load.command",
            f"{_PKG}.rollouts_under_load.analysis",
            "edgeload.reporting.plots.rollouts_under_load",
        ),
        Scenario(
            "lenses",
            f"{_PKG}.lenses.command",
            f"{_PKG}.lenses.analysis",
            "edgeload.reporting.plots.lenses",
        ),
    )
}


def scenario(name: object) -> Scenario:
    """The scenario called `name`; ResultsError (one line) for a name this edgeload lacks."""
    try:
        return SCENARIOS[str(name)]
    except KeyError:
        known = ", ".join(SCENARIOS)
        raise ResultsError(f"unknown scenario {name!r} (this edgeload knows {known})") from None
