"""The pipeline-config readings of an FPS measurement, as `sample` records of the log (pure).

Each image size's detector has its pipeline config read from the edge (its status page)
before the warm-up, every `--config-check-interval` seconds during the test and after it. A
reading is a `sample` record of kind `pipeline_config`:

    {"type": "sample", "t", "kind": "pipeline_config", "image_size": "640x480",
     "detector_id", "phase": "provisioned" | "before" | "during" | "after",
     "pipeline_config": str | null, "source": "edge" | "cloud" | "unknown",
     "confirmed": bool (the edge itself said it runs this config),
     "completed_iterations": int (measured submissions so far), "error": str | null}

`provisioned` is what provisioning recorded (from the edge, else the cloud's current config);
the before/during/after readings ask the edge only: `source` is `edge` when it published one,
`unknown` when it published none or could not be read (`error`). The measurement is invalid
when a later reading differs from the first one; it is verified when the edge published the
config before the test and again afterwards (or at the change).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from edgeload import runlog

KIND = "pipeline_config"
EDGE, UNKNOWN = "edge", "unknown"  # provisioning may also record "cloud"
PROVISIONED, BEFORE, DURING, AFTER = "provisioned", "before", "during", "after"
NONE_SHOWN = "<none>"


def reading(read: Callable[[], str | None], phase: str, done: int, **fields: Any) -> dict[str, Any]:
    """Read the edge's config now (`read()`: the config, or None when it publishes none); a
    failed read is recorded, not raised."""
    t = time.time()
    try:
        config, error = read(), None
    except Exception as exc:  # the endpoint could not tell; recorded, not fatal
        config, error = None, f"{type(exc).__name__}: {exc}"
    source = EDGE if config is not None else UNKNOWN
    return runlog.sample(
        KIND,
        t=t,
        **fields,
        phase=phase,
        pipeline_config=config,
        source=source,
        confirmed=source == EDGE,
        completed_iterations=done,
        error=error,
    )


def checked(readings: Sequence[dict]) -> list[dict]:
    """The successful readings of the edge (before/during/after), in order."""
    return [r for r in readings if r.get("phase") != PROVISIONED and r.get("error") is None]


def changed_to(readings: Sequence[dict]) -> str | None:
    """The first config that differs from the first reading, or None if none differed."""
    ok = checked(readings)
    if not ok:
        return None
    first = ok[0].get("pipeline_config")
    for r in ok[1:]:
        config = r.get("pipeline_config")
        if config != first:
            return config if config is not None else NONE_SHOWN
    return None


def first_config(readings: Sequence[dict]) -> str | None:
    ok = checked(readings)
    return ok[0].get("pipeline_config") if ok else None


def verified(readings: Sequence[dict]) -> bool:
    """The edge published the config before the test and again afterwards (or at the change)."""
    ok = [r for r in checked(readings) if r.get("pipeline_config") is not None]
    return len(ok) >= 2 and ok[0].get("phase") == BEFORE


def invalid_reason(readings: Sequence[dict]) -> str | None:
    changed = changed_to(readings)
    if changed is None:
        return None
    return (
        f"the pipeline config on the edge changed during the test from "
        f"{first_config(readings)!r} to {changed!r}"
    )
