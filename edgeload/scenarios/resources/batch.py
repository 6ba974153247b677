"""One batch of combinations: their detectors brought up at once, then each measured.

Bringing up: one thread per combination runs `edgeload.provisioning.provision_detector` (get
or create the detector by its stable name, train it, wait until the edge serves it), so the
batch takes as long as its slowest detector, not the sum. Measuring (one combination after
the other, all of the batch's detectors loaded): `--queries` image queries at the
combination's image size, then one reading of `/status/resources.json` and of the pod metrics.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from edgeload.errors import EdgeloadError
from edgeload.scenarios.resources import figures
from edgeload.scenarios.resources.matrix import Combination
from edgeload.scenarios.resources.podmetrics import PodMetrics
from edgeload.target import one_line

RESOURCES_PATH = "/status/resources.json"
# A detector the endpoint has not listed yet (its status monitor refreshes on its own clock)
# is read again this many times, this far apart, before it counts as not reported.
READ_TRIES = 3
READ_PAUSE_S = 1.0

# statuses of a combination
MEASURED = "measured"  # at least one memory figure was read
NOT_REPORTED = "not_reported"  # served by the edge, but no figure was reported
FAILED = "failed"  # its detector could not be brought up


def provision_all(
    target: Any,
    combos: Sequence[Combination],
    *,
    timeout_s: float,
    say: Callable[[str], None],
) -> dict[str, tuple[Any, float]]:
    """combination key -> (ProvisionedDetector or the exception that stopped it, seconds it
    took). Threads are daemons joined with a timeout, so Ctrl-C reaches this thread at once."""
    results: dict[str, tuple[Any, float]] = {}

    def bring_up(combo: Combination) -> None:
        started = time.monotonic()
        try:
            value: Any = _provision(target, combo, timeout_s, say)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller as the result
            value = exc
        results[combo.key] = (value, time.monotonic() - started)

    threads = [
        threading.Thread(target=bring_up, args=(c,), name=f"edgeload-{c.key}", daemon=True)
        for c in combos
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(timeout=0.2)
    return results


def _provision(target: Any, combo: Combination, timeout_s: float, say: Callable) -> Any:
    from edgeload.provisioning import provision_detector
    from edgeload.target import make_sdk

    gl = make_sdk(target, retries=False)
    try:
        return provision_detector(
            gl,
            mode=combo.mode,
            image_size=(combo.width, combo.height),
            timeout_s=timeout_s,
            progress=lambda text: say(f"[{combo.key}] {text}"),
            target=target,
            # an embedded simulator answers status polls in microseconds: poll it often
            poll_s=0.25 if getattr(target, "sim", None) is not None else 2.0,
            mode_size=combo.n,
            edge_pipeline_config=combo.pipeline,
        )
    finally:
        _close(gl)


def measure(
    target: Any, combo: Combination, detector: Any, queries: int, pods: PodMetrics
) -> dict[str, Any]:
    """The `combination` sample fields of one brought-up detector (see analysis.py)."""
    sent, ok, error = send_queries(target, combo, detector, queries)
    endpoint = _read_endpoint(target, detector.id)
    pod_body = pods.read()
    pod = (
        figures.pod_figures(pod_body, detector.id)
        if pod_body is not None
        else {"ram_bytes": None, "pods": 0, "note": pods.note}
    )
    reported = endpoint["ram_bytes"] is not None or endpoint["vram_bytes"] is not None
    reported = reported or pod["ram_bytes"] is not None
    return {
        "status": MEASURED if reported else NOT_REPORTED,
        "error": None,
        "detector_id": detector.id,
        "detector_name": detector.name,
        "pipeline_config": detector.pipeline_config,
        "pipeline_config_confirmed": detector.pipeline_config_confirmed,
        "queries_sent": sent,
        "queries_from_edge": ok,
        "query_error": error,
        "endpoint": endpoint,
        "pods": pod,
    }


def send_queries(
    target: Any, combo: Combination, detector: Any, count: int
) -> tuple[int, int, str | None]:
    """(sent, answered by the edge, first error) of `count` image queries at the combination's
    size: the pods' memory for that image size is what is read next."""
    if count <= 0:
        return 0, 0, None
    from edgeload.clients import AnswerSpec, submit_sdk
    from edgeload.images import ImagePool
    from edgeload.target import make_sdk

    pool = ImagePool(combo.mode, combo.width, combo.height, n=detector.mode_size, variants=2)
    spec = AnswerSpec.of(detector.answer_spec())
    gl = make_sdk(target, retries=False)
    ok, error = 0, None
    try:
        for _ in range(count):
            outcome = submit_sdk(gl, detector.id, pool.next()[0], spec)
            if outcome.ok:
                ok += 1
            elif error is None:
                error = outcome.error or "failed"
    finally:
        _close(gl)
    return count, ok, error


def _read_endpoint(target: Any, detector_id: str) -> dict[str, Any]:
    """The detector's figures from resources.json, read again a few times while the endpoint
    does not list it yet."""
    found: dict[str, Any] = figures.endpoint_figures(None, detector_id)
    for attempt in range(READ_TRIES):
        try:
            body = target.get_json(RESOURCES_PATH, timeout_s=10.0)
        except Exception as exc:  # noqa: BLE001 - not reachable: not measured, with the reason
            found = figures.endpoint_figures(None, detector_id)
            found["note"] = f"{RESOURCES_PATH}: {one_line(str(exc), 100)}"
            return found
        found = figures.endpoint_figures(body, detector_id)
        if found["note"] != "resources.json does not list the detector":
            return found
        if attempt + 1 < READ_TRIES:
            time.sleep(READ_PAUSE_S)
    return found


def failure_fields(combo: Combination, exc: BaseException) -> dict[str, Any]:
    """The `combination` sample fields of a combination whose detector did not come up."""
    text = str(exc) if isinstance(exc, EdgeloadError) else f"{type(exc).__name__}: {exc}"
    return {"status": FAILED, "error": one_line(text, 300)}


def _close(gl: Any) -> None:
    try:
        gl.close()
    except Exception:  # noqa: BLE001
        pass
