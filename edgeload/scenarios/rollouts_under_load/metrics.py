"""The rollouts-under-load metric table: its headline figures in `outputs.summary`, defined
once, as data (what `edgeload compare`, `--fail-if` gates and history read). Times are endpoint
seconds (simulated seconds under a time scale); latencies are milliseconds."""

from __future__ import annotations

from edgeload.reporting.metrics import DURATION, MAX, PERCENTILE, RATE, SUM, VALUE, Metric

_ROWS: list[tuple] = [
    ("rollouts", "rollouts", SUM, None, "rollouts during the load (rise of the Deployments' "
     "highest revision; pod update windows where Deployments could not be read)"),
    ("rollout_windows", "windows", SUM, None, "pod update windows during the load"),
    ("requests", "requests", SUM, None, "image queries sent"),
    ("errors", "requests", SUM, False, "image queries that failed (any error category)"),
    ("errors_in_rollouts", "requests", SUM, False, "failed image queries inside rollout windows"),
    ("errors_outside_rollouts", "requests", SUM, False,
     "failed image queries outside rollout windows"),
    ("latency_spikes_in_rollouts", "requests", SUM, False,
     "answered image queries above the spike threshold inside rollout windows"),
    ("latency_spikes_outside_rollouts", "requests", SUM, False,
     "answered image queries above the spike threshold outside rollout windows"),
    ("max_latency_in_rollouts_ms", "ms", MAX, False,
     "slowest answered image query inside rollout windows"),
    ("p95_latency_in_rollouts_ms", "ms", PERCENTILE, False,
     "95th percentile latency of answered image queries inside rollout windows"),
    ("p50_latency_outside_rollouts_ms", "ms", PERCENTILE, False,
     "median latency of answered image queries outside rollout windows"),
    ("p95_latency_outside_rollouts_ms", "ms", PERCENTILE, False,
     "95th percentile latency of answered image queries outside rollout windows"),
    ("max_latency_outside_rollouts_ms", "ms", MAX, False,
     "slowest answered image query outside rollout windows"),
    ("longest_rollout_window_s", "s", MAX, False, "longest rollout window"),
    ("longest_error_free_s", "s", DURATION, True, "longest stretch of the load without an error"),
    ("load_s", "s", DURATION, None, "how long the load ran"),
    ("achieved_rps", "req/s", RATE, None, "image queries sent per real second"),
    ("labels_sent", "labels", SUM, None, "labels submitted to keep training going"),
    ("min_rollouts", "rollouts", VALUE, None, "rollouts the run needed (--min-rollouts)"),
]  # fmt: skip

RUN_METRICS: tuple[Metric, ...] = tuple(Metric(*row) for row in _ROWS)
