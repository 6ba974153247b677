"""The lens sweep's metric table: its headline figures (`outputs.summary`), defined once, as data,
and the rules of the knee. `edgeload compare`, `--fail-if` and `history` read RUN_METRICS.
"""

from __future__ import annotations

from edgeload.reporting.metrics import MAX, RATIO, SUM, VALUE, Metric

# the knee (README, Camera and lens sweeps; `edgeload lenses --help`)
PACED_FRACTION = 0.9  # a paced lens is past its knee below this fraction of target_fps
GROWTH = 0.05  # an unpaced lens is past its knee when frames/s grows by less than this
MAX_ERROR_RATE = 0.01  # failed frames above this fraction fail the frame-errors check

KNEE_DEFINITION = (
    f"the first run where a paced lens's frames/s per camera falls below {PACED_FRACTION:g} x "
    "target_fps or its p95 frame latency exceeds the frame budget 1/target_fps; for an "
    f"unpaced lens (target_fps 0), the first run whose frames/s grows by less than "
    f"{GROWTH:.0%} over the previous run while its cameras x copies grow (falls by more than "
    f"{GROWTH:.0%} while they do not); the sweep's knee is the earliest lens knee"
)
FRAME_DEFINITION = (
    "a frame is one lens chain as a unit (its calls, the fan-out in parallel); frame latency "
    "is the chain's wall time; frames/s counts frames that completed without error inside a "
    "run's measured window (after its warm-up), divided by the window's length"
)

_ROWS: list[tuple] = [
    ("knee_run", "run", VALUE, True, "index of the first run past a lens's knee (absent: none)"),
    ("runs_measured", "runs", SUM, None, "runs whose measured window was observed"),
    ("frames", "frames", SUM, True, "frames completed without error in the measured windows"),
    ("failed_frames", "frames", SUM, False, "frames with a failed call in the measured windows"),
    ("frame_error_rate", "", RATIO, False, "failed frames / all frames in the measured windows"),
    ("total_fps_max", "1/s", MAX, True, "most frames/s of every lens together in one run"),
    ("frame_latency_p95_ms_max", "ms", MAX, False, "largest p95 frame latency of a lens in a run"),
]
RUN_METRICS: tuple[Metric, ...] = tuple(Metric(*row) for row in _ROWS)
ALIASES: dict[str, str] = {"knee": "knee_run", "error_rate": "frame_error_rate"}
