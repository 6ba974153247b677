"""Post-run reporting: read `load_test.log`, analyse it, write results JSON and plots, compare.

    from edgeload.reporting import write_reports
    results = write_reports(run_dir)   # raises ReportError (one-line message)

Never imports locust or gevent; the analysis never touches the network.
"""

from edgeload.reporting.errors import ReportError
from edgeload.reporting.report import write_reports

__all__ = ["ReportError", "write_reports"]
