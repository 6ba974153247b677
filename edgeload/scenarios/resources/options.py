"""`edgeload resources`' options (on `edgeload.options`) and its validated `Inputs`.

`validate_inputs` checks every option and the matrix file (or, with `--resume`, the run folder
and the matrix it was started with) with a one-line UsageError before anything starts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeload import options as opt
from edgeload.errors import UsageError
from edgeload.options import INT, TEXT, Option
from edgeload.scenarios.resources.matrix import Combination, load_matrix

SCENARIO = "resources"
MATRIX_SNAPSHOT = "matrix.yaml"  # the matrix as given, copied into the run folder

MATRIX = Option(
    "--matrix",
    TEXT,
    None,
    "YAML matrix of detector modes x pipelines x n x image sizes (see "
    "configs/resources-matrix.yaml); with --resume, the run's own copy by default",
    metavar="FILE",
)
BATCH_SIZE = Option(
    "--batch-size",
    INT,
    4,
    "combinations brought up (trained, served by the edge) at once; memory is read after each "
    "batch and the plot re-drawn; 1 gives each combination its own NVML figure (GPU memory "
    "used after minus before its batch) when edgeload runs on the edge box",
    minimum=1,
    maximum=100,
)
QUERIES = Option(
    "--queries",
    INT,
    3,
    "image queries sent at the combination's image size before its memory is read",
    minimum=0,
    maximum=1000,
)
MAX_COMBINATIONS = Option(
    "--max-combinations",
    INT,
    None,
    "measure at most this many combinations in this run (the rest: later, with --resume)",
    minimum=1,
    maximum=100_000,
    metavar="N",
)
RESUME = Option(
    "--resume",
    TEXT,
    None,
    "continue this run folder of `edgeload resources`: combinations already measured are kept, "
    "the others are measured",
    metavar="RUN_DIR",
)
K8S = Option(
    "--k8s",
    TEXT,
    "auto",
    "pod memory from the Kubernetes metrics API (metrics.k8s.io, namespace edge): auto = the "
    "simulator's API on a simulated target, else kubeconfig or in-cluster config; off = skip; "
    "URL = that API base URL without credentials (e.g. `kubectl proxy`'s)",
    metavar="auto|off|URL",
)

OPTIONS: tuple[Option, ...] = (
    MATRIX,
    BATCH_SIZE,
    QUERIES,
    MAX_COMBINATIONS,
    RESUME,
    K8S,
    opt.OUTPUT_DIR,
    opt.SIM_PROFILE.with_default("resources-demo"),
    opt.SIM_TIME_SCALE,
    opt.PROVISION_TIMEOUT,
    opt.CA_BUNDLE,
    opt.FAIL_IF,
)


@dataclass(frozen=True)
class Inputs:
    """The validated options of a resources run (the log header's `inputs`)."""

    matrix_file: str
    matrix_text: str = field(repr=False)
    combinations: tuple[Combination, ...]
    batch_size: int
    queries: int
    max_combinations: int | None
    resume: str | None
    k8s: str
    output_dir: str
    sim_profile: str
    sim_time_scale: float
    provision_timeout: float
    ca_bundle: str | None = None
    fail_if: str | None = None

    def as_record(self) -> dict[str, Any]:
        record = {k: v for k, v in self.__dict__.items() if k not in ("matrix_text",)}
        record["combinations"] = [c.as_record() for c in self.combinations]
        record["matrix_sha256"] = hashlib.sha256(self.matrix_text.encode()).hexdigest()
        return record


def validate_inputs(namespace: Any) -> Inputs:
    """The run's options, checked; UsageError (one line, what to fix) for the first bad one."""
    values = opt.parse_options(namespace, OPTIONS)
    k8s = values["k8s"]
    if k8s not in ("auto", "off") and not k8s.startswith(("http://", "https://")):
        raise UsageError(f"--k8s must be auto, off or an http(s):// URL, got {k8s!r}")
    resume = values["resume"]
    matrix_file = values["matrix"]
    if resume is not None:
        matrix_file = _resume_matrix(Path(resume), matrix_file)
    elif matrix_file is None:
        raise UsageError("give --matrix FILE (e.g. configs/resources-matrix.yaml), or --resume")
    combos, text = load_matrix(matrix_file)
    return Inputs(
        **opt.run_values(values, SCENARIO),
        matrix_file=str(matrix_file),
        matrix_text=text,
        combinations=tuple(combos),
        batch_size=values["batch_size"],
        queries=values["queries"],
        max_combinations=values["max_combinations"],
        resume=resume,
        k8s=k8s,
        provision_timeout=values["provision_timeout"],
    )


def _resume_matrix(run_dir: Path, given: str | None) -> str:
    """The matrix of a resumed run: its own snapshot; a --matrix given must expand to the
    same combinations (a different matrix is a new run)."""
    from edgeload.reporting.logreader import read_header
    from edgeload.runlog import LOG_FILENAME

    log = run_dir / LOG_FILENAME
    if not log.is_file():
        raise UsageError(f"--resume {run_dir}: no {LOG_FILENAME} there: give a run folder")
    try:
        scenario = read_header(log).get("scenario")
    except Exception:  # noqa: BLE001 - any unreadable header is the same mistake
        scenario = None
    if scenario != SCENARIO:
        raise UsageError(f"--resume {run_dir}: not a run folder of `edgeload {SCENARIO}`")
    snapshot = run_dir / MATRIX_SNAPSHOT
    if not snapshot.is_file():
        raise UsageError(f"--resume {run_dir}: its {MATRIX_SNAPSHOT} is missing")
    if given is not None:
        ours, _ = load_matrix(snapshot)
        theirs, _ = load_matrix(given)
        if {c.key for c in ours} != {c.key for c in theirs}:
            raise UsageError(
                f"--matrix {given} differs from the matrix of {run_dir} ({MATRIX_SNAPSHOT}): "
                "resume without --matrix, or start a new run"
            )
    return str(snapshot)
