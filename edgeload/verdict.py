"""One verdict model for every scenario: the run's status, its checks, the verdict, the exit code.

A run has a **status** (did it run its course?), a list of **checks** (each `passed`, `failed`
or `not_observed`, with the reason), and a **verdict** drawn from them:

    pass          every required check passed and the run completed
    fail          a check or gate failed (the endpoint did not hold up)
    inconclusive  nothing failed, but the answer is not known: a required check was never
                  observed (zero pods, zero rollouts), the measurement was impaired, or the
                  run did not complete

A check whose subject was never observed is `not_observed`, never `passed`.

Exit codes, the same for every command (the README's table):

    0    pass
    1    fail: a check or a --fail-if gate failed, or requests failed (Locust's convention)
    2    usage error: bad input, nothing ran
    3    impaired: the measurement is incomplete (the endpoint stopped answering, a worker was
         lost, records were lost, the load generator fell behind its schedule)
    4    inconclusive: the scenario's goal was never observed
    5    run error: the run could not be carried out (e.g. provisioning failed)
    6    output error: a file of the run folder could not be written (disk full, read-only)
    130  interrupted by SIGINT (Ctrl-C); 143 by SIGTERM

When several apply, the first in this order wins: interrupted, output error, run error,
impaired, fail, inconclusive, pass.

Pure data and functions: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# -- run status ------------------------------------------------------------------------------
STATUS_COMPLETED = "completed"  # the run ran its course
STATUS_INTERRUPTED = "interrupted"  # stopped early by a signal (or a user stop)
STATUS_FAILED = "failed"  # could not be carried out (run error)
RUN_STATUSES = (STATUS_COMPLETED, STATUS_INTERRUPTED, STATUS_FAILED)

# -- check status ----------------------------------------------------------------------------
PASSED = "passed"
FAILED = "failed"
NOT_OBSERVED = "not_observed"
CHECK_STATUSES = (PASSED, FAILED, NOT_OBSERVED)

# -- check kinds -----------------------------------------------------------------------------
GOAL = "goal"  # what the scenario is for (all pods online, rollouts landed)
CHECK = "check"  # a property the endpoint must have (no OOM kills, no errors)
GATE = "gate"  # a threshold the user set (--fail-if, --latency-slo)
INTEGRITY = "integrity"  # the measurement itself is whole (no lost records, endpoint alive)
CHECK_KINDS = (GOAL, CHECK, GATE, INTEGRITY)

# -- verdicts --------------------------------------------------------------------------------
PASS = "pass"
FAIL = "fail"
INCONCLUSIVE = "inconclusive"
VERDICTS = (PASS, FAIL, INCONCLUSIVE)

# -- exit codes ------------------------------------------------------------------------------
EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_IMPAIRED = 3
EXIT_INCONCLUSIVE = 4
EXIT_RUN_ERROR = 5
EXIT_OUTPUT_ERROR = 6
EXIT_SIGINT = 130
EXIT_SIGTERM = 143

EXIT_CODES: dict[int, str] = {
    EXIT_PASS: "pass",
    EXIT_FAIL: "fail: a check or a --fail-if gate failed, or requests failed",
    EXIT_USAGE: "usage error: bad input, nothing ran",
    EXIT_IMPAIRED: "impaired: the measurement is incomplete (endpoint stopped answering, worker "
    "lost, records lost, load generator behind schedule)",
    EXIT_INCONCLUSIVE: "inconclusive: the scenario's goal was never observed",
    EXIT_RUN_ERROR: "run error: the run could not be carried out (e.g. provisioning failed)",
    EXIT_OUTPUT_ERROR: "output error: a file of the run folder could not be written",
    EXIT_SIGINT: "interrupted by SIGINT (Ctrl-C)",
    EXIT_SIGTERM: "interrupted by SIGTERM",
}


@dataclass(frozen=True)
class Check:
    """One check of a run. `required`: a not-observed required check makes the verdict
    inconclusive; an optional one (e.g. GPU balance on a one-GPU box) does not."""

    name: str
    status: str
    detail: str
    kind: str = CHECK
    required: bool = True

    def __post_init__(self) -> None:
        if self.status not in CHECK_STATUSES:
            raise ValueError(f"check status {self.status!r} is not one of {CHECK_STATUSES}")
        if self.kind not in CHECK_KINDS:
            raise ValueError(f"check kind {self.kind!r} is not one of {CHECK_KINDS}")

    def as_record(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "status": self.status,
            "detail": self.detail,
            "required": self.required,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Check:
        return cls(
            name=str(record["name"]),
            status=str(record["status"]),
            detail=str(record.get("detail", "")),
            kind=str(record.get("kind", CHECK)),
            required=bool(record.get("required", True)),
        )


def check(
    name: str, ok: bool | None, detail: str, *, kind: str = CHECK, required: bool = True
) -> Check:
    """A check from an observation: True passed, False failed, None never observed."""
    status = NOT_OBSERVED if ok is None else PASSED if ok else FAILED
    return Check(name, status, detail, kind, required)


@dataclass(frozen=True)
class Verdict:
    """The verdict of a run, its exit code, and one line saying why."""

    verdict: str
    exit_code: int
    reason: str

    def as_record(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "exit_code": self.exit_code, "reason": self.reason}


def decide(
    status: str,
    checks: Sequence[Check],
    *,
    signal_name: str | None = None,
    output_error: str | None = None,
) -> Verdict:
    """The verdict and exit code of a run with this status and these checks.

    signal_name: "SIGINT"/"SIGTERM" when a signal interrupted the run (sets 130/143).
    output_error: why a file of the run folder could not be written, if one could not.
    """
    failed = [c for c in checks if c.status == FAILED and c.kind != INTEGRITY]
    impaired = [c for c in checks if c.status == FAILED and c.kind == INTEGRITY]
    unobserved = [c for c in checks if c.status == NOT_OBSERVED and c.required]

    if failed:
        verdict, why = FAIL, "failed: " + _names(failed)
    elif status != STATUS_COMPLETED:
        verdict = INCONCLUSIVE
        why = "the run was interrupted" if status == STATUS_INTERRUPTED else "the run failed"
    elif impaired:
        verdict, why = INCONCLUSIVE, "the measurement is impaired: " + _names(impaired)
    elif unobserved:
        verdict, why = INCONCLUSIVE, "not observed: " + _names(unobserved)
    else:
        verdict, why = PASS, "every check passed"

    if status == STATUS_INTERRUPTED:
        code = EXIT_SIGTERM if signal_name == "SIGTERM" else EXIT_SIGINT
    elif output_error:
        code, why = EXIT_OUTPUT_ERROR, f"output error: {output_error}"
    elif status == STATUS_FAILED:
        code = EXIT_RUN_ERROR
    elif impaired:
        code = EXIT_IMPAIRED
        if failed:
            why += "; the measurement is impaired: " + _names(impaired)
    elif failed:
        code = EXIT_FAIL
    elif verdict == INCONCLUSIVE:
        code = EXIT_INCONCLUSIVE
    else:
        code = EXIT_PASS
    return Verdict(verdict, code, why)


def checks_from_records(records: Iterable[dict[str, Any]]) -> list[Check]:
    return [Check.from_record(r) for r in records]


def _names(checks: Sequence[Check]) -> str:
    return ", ".join(c.name for c in checks)
