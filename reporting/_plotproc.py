"""Child process of `edgeload.reporting.report`: import matplotlib, then draw the plots of the
analysis the parent sends on stdin (a pickle it made itself) into the run folder."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path


def main() -> int:
    import edgeload.reporting.plots  # noqa: F401 - the slow import, overlapped with the parent's reading
    from edgeload.reporting.report import save_plots

    payload = sys.stdin.buffer.read()
    if not payload:  # the parent failed before it had anything to draw
        return 0
    save_plots(pickle.loads(payload), Path(sys.argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
