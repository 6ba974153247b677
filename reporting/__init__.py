"""Post-run reporting for every scenario: read `load_test.log`, run the scenario's analysis,
write the results envelope and plots, print summaries, compare runs.

    from edgeload.reporting import write_reports, load_results
    results = write_reports(run_dir)   # ResultsError / OutputError (one-line messages)

Never imports locust or gevent; analysis never touches the network.
"""

from edgeload.reporting.report import write_reports
from edgeload.reporting.results import load_results

__all__ = ["load_results", "write_reports"]
