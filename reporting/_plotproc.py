"""Child process of `edgeload.reporting.report`: import matplotlib and the scenario's plots,
then draw the plot data the parent sends on stdin (a pickle it made itself) into the run folder.

    python -m edgeload.reporting._plotproc RUN_DIR SCENARIO
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path


def main() -> int:
    from edgeload.reporting.report import save_plots
    from edgeload.scenarios import scenario

    run_dir, scenario_name = Path(sys.argv[1]), sys.argv[2]
    scenario(scenario_name).plots  # noqa: B018 - the slow import, overlapped with the reading
    payload = sys.stdin.buffer.read()
    if not payload:  # the parent failed before it had anything to draw
        return 0
    for path in save_plots(scenario_name, pickle.loads(payload), run_dir):
        print(path.name)  # the parent embeds these in report.html
    return 0


if __name__ == "__main__":
    sys.exit(main())
