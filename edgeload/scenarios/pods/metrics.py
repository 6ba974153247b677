"""The pod scenarios' metric table: their headline figures in `outputs.summary`, defined once,
as data (what `edgeload compare`, `--fail-if` gates and history read). Times are endpoint
seconds (simulated seconds under a time scale) from the endpoint's first answer."""

from __future__ import annotations

from edgeload.reporting.metrics import DURATION, MAX, SUM, VALUE, Metric

_ROWS: list[tuple] = [
    (
        "connect_wait_s",
        "s",
        DURATION,
        None,  # how long the endpoint took to be installed: not the endpoint's performance
        "wait until the endpoint first answered (the timer starts then)",
    ),
    (
        "all_pods_online_s",
        "s",
        DURATION,
        False,
        "until every detector answered from the edge within one iteration",
    ),
    (
        "all_pods_ready_s",
        "s",
        DURATION,
        False,
        "until every inference pod of the run's detectors was Ready (Kubernetes)",
    ),
    (
        "every_detector_got_edge_s",
        "s",
        DURATION,
        False,
        "until the last detector got its first edge answer",
    ),
    ("answers", "answers", SUM, None, "image queries sent"),
    ("edge_answers", "answers", SUM, None, "answers the edge gave"),
    ("cloud_answers", "answers", SUM, None, "answers that came from the cloud"),
    ("error_answers", "answers", SUM, False, "image queries that got an error"),
    (
        "errors_after_first_edge",
        "answers",
        SUM,
        False,
        "errors after a detector's first edge answer (pods coming up excluded)",
    ),
    (
        "non_edge_after_first_edge",
        "answers",
        SUM,
        False,
        "cloud answers and errors after a detector's first edge answer",
    ),
    ("pod_restarts", "restarts", SUM, False, "restarts of the run's inference pods"),
    ("oom_killed_pods", "pods", SUM, False, "inference pods terminated OOMKilled"),
    ("pending_pods", "pods", SUM, False, "inference pods unschedulable or Pending at the end"),
    ("max_pending_s", "s", MAX, False, "longest time an inference pod was Pending"),
    ("rollouts_seen", "rollouts", SUM, None, "model rollouts seen after the first models"),
    ("overlapping_updates", "overlaps", SUM, False, "times two detectors were updated at once"),
    ("ram_peak_bytes", "bytes", MAX, None, "peak RAM used on the edge box"),
    ("ram_peak_pct", "%", MAX, None, "peak RAM used, % of the box's RAM"),
    ("vram_peak_bytes", "bytes", MAX, None, "peak VRAM used on the busiest GPU"),
    (
        "vram_gap_bytes",
        "bytes",
        MAX,
        False,
        "largest gap in VRAM used between GPUs after all pods were online",
    ),
    ("labels_sent", "labels", SUM, None, "labels submitted to keep training going"),
    ("detectors", "detectors", VALUE, None, "detectors of the run"),
]

RUN_METRICS: tuple[Metric, ...] = tuple(Metric(*row) for row in _ROWS)
