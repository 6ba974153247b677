"""Detectors for a run: get or create them, prime them with labels until they are trained, and
wait until the edge endpoint serves them.

    provision_detector(gl, mode="BINARY", image_size=(640, 480))  -> ProvisionedDetector
    provision_detectors(gl, 3, mode="COUNT", image_size=(640, 480)) -> [ProvisionedDetector]
    provision_detectors(gl, 1, mode="MULTI_CLASS", mode_size=3,
                        edge_pipeline_config="NAME")              -> [ProvisionedDetector]

Steps, each with a timeout, a progress line every few seconds, and a one-line error:
1. get or create the detector by a stable name per mode and image size
   (`edgeload-binary-640x480`, then `-2`, `-3`, ... for more detectors; MULTI_CLASS and
   BOUNDING_BOX names add their size `-n3`, COUNT names a max count other than 10 `-n25`, and
   an edge pipeline config adds `-p<hash>`), or use a given id; a detector is created through
   the SDK's call for its mode (`edgeload.modes`), with the edge pipeline config when one is
   asked for;
2. if it is not trained enough (at least MIN_LABELS labels and a projected balanced accuracy
   above MIN_ACCURACY, from the cloud's evaluation), submit labelled synthetic images
   asynchronously, label them with the right answer, and wait for training;
3. submit image queries until the edge answers one itself, and (where the endpoint publishes
   it) until the edge runs the cloud's current pipeline config; record that config. With an
   edge pipeline config asked for, the edge's status page must say it runs exactly that config
   (compared as YAML): never assumed, however the edge answers.

The endpoint's status data (`/status/metrics.json`) is read here too: `fetch_pipeline_config`
and `fetch_endpoint_images`.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from edgeload import images as images_module
from edgeload import modes as modes_module
from edgeload.errors import RunError, UsageError
from edgeload.target import Target, one_line, redact
from edgeload.wait import Progress, Wait, retry

MODES = modes_module.MODES
# The questions the synthetic images of edgeload.images answer.
QUERIES = {mode: spec.query for mode, spec in modes_module.SPECS.items()}
COUNT_CLASS_NAME = images_module.COUNT_CLASS_NAME
COUNT_MAX_COUNT = images_module.COUNT_MAX
MIN_LABELS = 30
MIN_ACCURACY = 0.6
# labels per further round when a detector has enough labels but too low an accuracy
EXTRA_LABELS = 30
MAX_PRIMING_ROUNDS = 5
# labelled images in flight at once while priming: each is two round trips (submit, label) of a
# few hundred ms to the cloud, so one at a time makes 30 labels take 15 s or more. Never more
# than the SDK's connection pool holds (beyond it, urllib3 opens and drops extra connections).
PRIMING_CONCURRENCY = 10
# Waits poll fast at first and back off to `poll_s` (2 s by default: what a real endpoint and
# the cloud are polled at): the pause before the next poll is a fifth of the time waited so
# far (at least FIRST_POLL_S), so the end of a wait is seen within ~20 % of its length. A fast
# endpoint (the demo simulator trains and starts pods in seconds) is ready within a second or
# two; a real one that takes minutes sees 2 s polls after the first 10 s.
FIRST_POLL_S = 0.2
POLL_FRACTION = 0.2
# While the status page says a detector's edge inference is `initializing`, the image queries
# (each escalated to the cloud until the pod is ready) are sent this rarely; the status page is
# what is polled meanwhile.
ASK_WHILE_INITIALIZING_S = 10.0
# Each worker of the real edge app caches an inference pod's readiness for 5 s, and a worker
# that cached "not ready" sends its queries to the cloud until that expires. nginx opens a
# new upstream connection per request, so after the first edge answer other workers may still
# answer from the cloud: the edge counts as serving a detector once it has answered for longer
# than that cache since the last answer that did not come from the edge.
EDGE_READINESS_CACHE_S = 5.0
METRICS_PATH = "/status/metrics.json"

# An image source for priming: index -> (JPEG bytes, right answer: "YES"/"NO" or a count[,
# ROIs: objects with .label, .top_left, .bottom_right normalised to 0..1]).
LabelledImages = Callable[[int], tuple]


@dataclass
class ProvisionedDetector:
    """A detector ready for load: trained, and answered by the edge."""

    id: str
    name: str
    query: str
    mode: str
    pipeline_config: str | None  # see pipeline_config_source
    # where pipeline_config came from: "edge" (the edge's status page says it runs it),
    # "cloud" (the cloud's current config; the edge does not publish its own), "unknown"
    pipeline_config_source: str = "unknown"
    pipeline_config_confirmed: bool = False  # the edge itself said it runs this config
    edge_config_name: str | None = None  # the edge inference config applied, if any
    image_size: tuple[int, int] | None = None
    labels: int | None = None
    projected_accuracy: float | None = None
    # MULTI_CLASS: the class names; mode_size: BOUNDING_BOX max boxes, MULTI_CLASS classes,
    # COUNT max count when not the default 10 (a default COUNT detector records as before)
    class_names: list[str] | None = None
    mode_size: int | None = None
    # the edge pipeline config asked for (--edge-pipeline-config), None for the default; when
    # set, pipeline_config is what the edge's status page said it runs, and equals it
    edge_pipeline_config: str | None = None

    def answer_spec(self) -> dict:
        """What an answer for this detector must look like (`edgeload.clients.AnswerSpec`)."""
        return {"mode": self.mode, "class_names": self.class_names, "max": self.mode_size}

    def as_record(self) -> dict:
        """JSON-able description for logs and result files."""
        return {
            "id": self.id,
            "name": self.name,
            "query": self.query,
            "mode": self.mode,
            "pipeline_config": self.pipeline_config,
            "pipeline_config_source": self.pipeline_config_source,
            "pipeline_config_confirmed": self.pipeline_config_confirmed,
            "edge_config_name": self.edge_config_name,
            "image_size": list(self.image_size) if self.image_size else None,
            "labels": self.labels,
            "projected_accuracy": self.projected_accuracy,
            **(
                {"class_names": self.class_names, "mode_size": self.mode_size}
                if self.mode_size is not None
                else {}
            ),
            **(
                {
                    "edge_pipeline_config_requested": self.edge_pipeline_config,
                    "edge_pipeline_config_verified": self.pipeline_config_confirmed
                    and same_pipeline_config(self.pipeline_config, self.edge_pipeline_config),
                }
                if self.edge_pipeline_config is not None
                else {}
            ),
        }


def detector_name(
    mode: str,
    image_size: tuple[int, int],
    index: int = 0,
    *,
    mode_size: int | None = None,
    edge_pipeline_config: str | None = None,
) -> str:
    """The stable name of the `index`-th edgeload detector for a mode and image size (and the
    mode's size, and an edge pipeline config: other values, other detectors). COUNT's default
    max count (10) adds nothing: those detectors keep the names they always had."""
    width, height = image_size
    base = f"edgeload-{mode.lower().replace('_', '-')}-{width}x{height}"
    named = modes_module.named_size(mode, mode_size)
    if named is not None:
        base += f"-n{named}"
    if edge_pipeline_config is not None:
        base += f"-p{pipeline_config_hash(edge_pipeline_config)}"
    return base if index == 0 else f"{base}-{index + 1}"


def pipeline_config_hash(config: str) -> str:
    """A short stable hash of a pipeline config (for detector names)."""
    return hashlib.sha256(config.encode()).hexdigest()[:12]


def same_pipeline_config(a: str | None, b: str | None) -> bool:
    """Whether two pipeline configs are the same, compared as YAML (a name is a YAML string)."""
    if a is None or b is None:
        return a is b
    import yaml

    try:
        return yaml.safe_load(a) == yaml.safe_load(b)
    except yaml.YAMLError:
        return a.strip() == b.strip()


def check_mode(mode: str) -> str:
    return modes_module.check_mode(mode)


def check_image_size(image_size: Sequence[int]) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in image_size)
    except (TypeError, ValueError):
        raise UsageError(f"image size must be (width, height), got {image_size!r}") from None
    if width <= 0 or height <= 0 or width > 10_000 or height > 10_000:
        raise UsageError(f"image size {width}x{height} is out of range: use 1..10000 pixels")
    return width, height


def provision_detector(
    gl: Any,
    *,
    mode: str,
    image_size: Sequence[int] = (640, 480),
    detector_id: str | None = None,
    name: str | None = None,
    timeout_s: float = 600.0,
    progress: Progress = print,
    images: LabelledImages | None = None,
    poll_s: float = 2.0,
    progress_every_s: float = 5.0,
    target: Any = None,
    mode_size: int | None = None,
    edge_pipeline_config: str | None = None,
) -> ProvisionedDetector:
    """One detector ready for load (see the module docstring). `target` (an
    `edgeload.target.Target`) lets it read the edge's pipeline config from the status page."""
    return provision_detectors(
        gl,
        1,
        mode=mode,
        image_size=image_size,
        detector_ids=[detector_id] if detector_id else None,
        names=[name] if name else None,
        timeout_s=timeout_s,
        progress=progress,
        images=images,
        poll_s=poll_s,
        progress_every_s=progress_every_s,
        target=target,
        mode_size=mode_size,
        edge_pipeline_config=edge_pipeline_config,
    )[0]


def provision_detectors(
    gl: Any,
    n: int,
    *,
    mode: str,
    image_size: Sequence[int] = (640, 480),
    detector_ids: Sequence[str] | None = None,
    names: Sequence[str] | None = None,
    timeout_s: float = 600.0,
    progress: Progress = print,
    images: LabelledImages | None = None,
    poll_s: float = 2.0,
    progress_every_s: float = 5.0,
    target: Any = None,
    wait_for_edge: bool = True,
    mode_size: int | None = None,
    edge_pipeline_config: str | None = None,
) -> list[ProvisionedDetector]:
    """`n` detectors ready for load. Training and edge waits run for all detectors at once;
    `timeout_s` bounds each wait. `wait_for_edge=False` stops after training (for scenarios
    that measure how the edge brings detectors up).

    `mode_size`: max count of COUNT, classes of MULTI_CLASS, max boxes of BOUNDING_BOX
    detectors (the mode's default if None; a given detector id's own size when None, else it
    must match).
    `edge_pipeline_config`: create the detectors with it and wait until the edge's status page
    says it runs it (a given or reused detector must have it already)."""
    mode = check_mode(mode)
    given_size = modes_module.resolve_n(mode, mode_size)  # UsageError for a bad size
    size_for_new = given_size
    size = check_image_size(image_size)
    _check_request(n, detector_ids, timeout_s)
    token = _token_of(gl)
    waiter = dict(poll_s=poll_s, progress_every_s=progress_every_s, progress=progress)

    try:
        detectors = [
            _get_or_create(
                gl,
                mode=mode,
                size=size,
                detector_id=detector_ids[i] if detector_ids else None,
                name=_name_of(i, names, mode, size, size_for_new, edge_pipeline_config),
                progress=progress,
                mode_size=size_for_new,
                size_given=mode_size is not None,
                edge_pipeline_config=edge_pipeline_config,
            )
            for i in range(n)
        ]
        shapes = [_shape_of(d, mode) for d in detectors]
        if images is None:
            class_names, most = shapes[0]
            images = synthetic_labelled_images(mode, size, mode_size=most, class_names=class_names)
        if edge_pipeline_config is not None:
            _check_configured_edge_pipeline(gl, detectors, edge_pipeline_config)
        labels: dict[str, int] = {}
        accuracy: dict[str, float | None] = {}
        _train(gl, detectors, images, timeout_s, labels, accuracy, **waiter)
        configs: dict[str, PipelineConfig] = {}
        if wait_for_edge:
            configs = _wait_for_edge(
                gl,
                detectors,
                images,
                timeout_s,
                target=target,
                edge_pipeline_config=edge_pipeline_config,
                **waiter,
            )
    except (UsageError, RunError) as exc:
        raise type(exc)(redact(str(exc), token)) from None
    except Exception as exc:  # SDK and network errors: one line, never the token
        raise RunError(redact(f"provisioning failed: {_short_error(exc)}", token)) from None
    return _provisioned(
        detectors, shapes, mode, size, configs, labels, accuracy, edge_pipeline_config
    )


def _provisioned(
    detectors: list[Any],
    shapes: list[tuple[list[str] | None, int | None]],
    mode: str,
    size: tuple[int, int],
    configs: dict[str, PipelineConfig],
    labels: dict[str, int],
    accuracy: dict[str, float | None],
    edge_pipeline_config: str | None,
) -> list[ProvisionedDetector]:
    unknown = PipelineConfig(None, "unknown", False)
    return [
        ProvisionedDetector(
            id=d.id,
            name=d.name,
            query=d.query,
            mode=mode,
            pipeline_config=configs.get(d.id, unknown).config,
            pipeline_config_source=configs.get(d.id, unknown).source,
            pipeline_config_confirmed=configs.get(d.id, unknown).confirmed,
            image_size=size,
            labels=labels.get(d.id),
            projected_accuracy=accuracy.get(d.id),
            class_names=shape[0],
            mode_size=shape[1],
            edge_pipeline_config=edge_pipeline_config,
        )
        for d, shape in zip(detectors, shapes, strict=True)
    ]


def _name_of(
    i: int,
    names: Sequence[str] | None,
    mode: str,
    size: tuple[int, int],
    mode_size: int | None,
    edge_pipeline_config: str | None,
) -> str:
    """Detector i's name: the one given, else edgeload's stable name for its kind."""
    if names and i < len(names) and names[i]:
        return names[i]
    return detector_name(
        mode, size, i, mode_size=mode_size, edge_pipeline_config=edge_pipeline_config
    )


def _check_request(n: int, detector_ids: Sequence[str] | None, timeout_s: float) -> None:
    if n < 1:
        raise UsageError(f"number of detectors must be at least 1, got {n}")
    if detector_ids and len(detector_ids) != n:
        raise UsageError(f"{len(detector_ids)} detector ids given for {n} detectors")
    if not timeout_s > 0:
        raise UsageError(f"provisioning timeout must be positive, got {timeout_s!r}")


def _shape_of(detector: Any, mode: str) -> tuple[list[str] | None, int | None]:
    """(class names, size) of a detector from its mode configuration: MULTI_CLASS (its class
    names, their number), BOUNDING_BOX (None, max boxes), COUNT (None, max count; None at the
    default 10, recorded as before), (None, None) for BINARY."""
    config = _config_of(detector)
    if mode == "MULTI_CLASS":
        names = [str(c) for c in config.get("class_names") or []]
        return names, len(names)
    if mode == "BOUNDING_BOX":
        most = config.get("max_num_bboxes")
        return None, int(most) if most else modes_module.SPECS[mode].default_n
    if mode == "COUNT":
        return None, modes_module.named_size(mode, _max_count_of(config))
    return None, None


def _config_of(detector: Any) -> dict:
    """A detector's mode configuration as a dict (the SDK gives a dict or a model)."""
    config = getattr(detector, "mode_configuration", None) or {}
    if not isinstance(config, dict):
        config = getattr(config, "__dict__", {}) or {}
    return config


def _max_count_of(config: dict) -> int:
    """A counting detector's max count (the API's default, 10, when it does not say)."""
    most = config.get("max_count")
    return int(most) if most else modes_module.COUNT_MAX


def _check_configured_edge_pipeline(gl: Any, detectors: list[Any], wanted: str) -> None:
    """Each detector's edge pipeline config, as the cloud gives it to edges, must be `wanted`
    (a reused detector may have been changed since); where the cloud does not say, the edge's
    status page is the judge later."""
    for detector in detectors:
        configured = cloud_pipeline_config(gl, detector.id)
        if configured is not None and not same_pipeline_config(configured, wanted):
            raise RunError(
                f"detector {detector.id} ({detector.name}) has the edge pipeline config "
                f"{one_line(configured, 60)!r} in the cloud, not {wanted!r}: it was changed after "
                "creation; rename or delete it, or pass another detector"
            )


@dataclass(frozen=True)
class PipelineConfig:
    """The pipeline config recorded for a detector, and where it came from."""

    config: str | None
    source: str  # "edge" | "cloud" | "unknown"
    confirmed: bool  # the edge itself said it runs this config

    def describe(self) -> str:
        if self.confirmed:
            return "pipeline config confirmed by the edge"
        if self.source == "cloud":
            return (
                "pipeline config not confirmed: the edge does not publish it; the cloud's "
                "current one is recorded"
            )
        return "pipeline config unknown: neither the edge nor the cloud said"


# A transient failure of one SDK call (a 5xx or a dropped connection while the endpoint or its
# cloud is busy) is retried with backoff this long before provisioning gives up.
SDK_RETRY_S = 120.0


def _patiently(call: Callable[[], Any], what: str, progress: Progress) -> Any:
    return retry(call, what=what, timeout_s=SDK_RETRY_S, progress=progress, describe=_short_error)


# --------------------------------------------------------------------------------------------
# step 1: the detector


def _get_or_create(
    gl: Any,
    *,
    mode: str,
    size: tuple[int, int],
    detector_id: str | None,
    name: str,
    progress: Progress,
    mode_size: int | None = None,
    size_given: bool = False,
    edge_pipeline_config: str | None = None,
) -> Any:
    from groundlight import NotFoundError

    if detector_id:
        try:
            detector = _patiently(lambda: gl.get_detector(detector_id), "GET detector", progress)
        except NotFoundError:
            raise UsageError(f"detector {detector_id} does not exist for this API token") from None
        detector_mode = str(getattr(detector, "mode", mode)).split(".")[-1].upper()
        if detector_mode != mode:
            raise UsageError(
                f"detector {detector_id} is a {detector_mode} detector, not {mode}: "
                "give a detector of the mode under test"
            )
        _check_size(detector, mode, mode_size if size_given else None)
        progress(f"using detector {detector.id} ({detector.name})")
        return detector
    try:
        detector = _patiently(
            lambda: gl.get_detector_by_name(name), "GET detector by name", progress
        )
    except NotFoundError:
        detector = None
    if detector is not None:
        if detector.query != QUERIES[mode]:
            raise UsageError(
                f"detector {name!r} ({detector.id}) exists with another query: "
                "rename or delete it, or pass its id explicitly"
            )
        # a default COUNT run's detector must count to 10, as it always was
        _check_size(detector, mode, modes_module.size_or_default(mode, mode_size))
        progress(f"using detector {detector.id} ({name})")
        return detector
    query = QUERIES[mode]
    create = _creator(gl, mode, name, mode_size, edge_pipeline_config)
    try:
        detector = _patiently(create, "POST detector", progress)
    except Exception as exc:
        # Another run (a second load machine, a parallel test) may have created the same name
        # between our lookup and our POST: the cloud answers 400 "already exists". Use it.
        if _http_status(exc) != 400:
            raise
        try:
            detector = gl.get_detector_by_name(name)
        except Exception:  # noqa: BLE001 - the POST's own error says more
            raise exc from None
        if detector.query != query:
            raise
        _check_size(detector, mode, modes_module.size_or_default(mode, mode_size))
        progress(f"using detector {detector.id} ({name}), created at the same time elsewhere")
        return detector
    progress(f"created detector {detector.id} ({name})")
    return detector


def _creator(
    gl: Any, mode: str, name: str, mode_size: int | None, edge_pipeline_config: str | None
) -> Any:
    """The SDK call that creates a detector of `mode` named `name` (not yet called)."""
    query = QUERIES[mode]
    # the edge pipeline config travels only when one is asked for: the default request is
    # the upstream scripts', unchanged
    extra = {"edge_pipeline_config": edge_pipeline_config} if edge_pipeline_config else {}
    if mode == "COUNT":
        most = mode_size or COUNT_MAX_COUNT
        return lambda: gl.create_counting_detector(
            name, query, COUNT_CLASS_NAME, max_count=most, **extra
        )
    if mode == "MULTI_CLASS":
        names = modes_module.class_names(mode_size or modes_module.SPECS[mode].default_n)
        return lambda: gl.create_multiclass_detector(name, query, names, **extra)
    if mode == "BOUNDING_BOX":
        most = mode_size or modes_module.SPECS[mode].default_n
        return lambda: gl.create_bounding_box_detector(
            name, query, modes_module.OBJECT_CLASS_NAME, max_num_bboxes=most, **extra
        )
    return lambda: gl.create_detector(name, query, **extra)


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status of an SDK/API error, when it has one."""
    status = getattr(exc, "status", None)
    return status if isinstance(status, int) else None


def _check_size(detector: Any, mode: str, wanted: int | None) -> None:
    """An existing COUNT / MULTI_CLASS / BOUNDING_BOX detector must have the size asked for
    (None: nothing asked; COUNT's None from a run without --max-count is its default 10)."""
    if wanted is None or modes_module.SPECS[mode].size_flag is None:
        return
    if mode == "COUNT":  # the max count itself, the default 10 included
        size = _max_count_of(_config_of(detector))
    else:
        size = _shape_of(detector, mode)[1]
    if size != wanted:
        flag = modes_module.SPECS[mode].size_flag
        raise UsageError(
            f"detector {detector.id} ({detector.name}) has {size} "
            f"{modes_module.SPECS[mode].size_what}, not {flag} {wanted}: give its size, "
            "or another detector"
        )


# --------------------------------------------------------------------------------------------
# step 2: training


def evaluation_of(gl: Any, detector_id: str) -> tuple[int, float | None, Any]:
    """(labels, projected balanced accuracy or None, evaluation stamp) from the cloud's
    evaluation; the stamp changes whenever the cloud publishes a new evaluation."""
    answer = gl.get_detector_evaluation(detector_id) or {}
    results = answer.get("evaluation_results") or {}
    labels = results.get("total_labeled_examples")
    if labels is None:
        labels = results.get("total_ground_truth_examples")
    accuracy = results.get("kfold_pooled__balanced_accuracy")
    accuracy = float(accuracy) if accuracy is not None else None
    return int(labels or 0), accuracy, (results.get("eval_timestamp"), accuracy)


def is_trained_enough(labels: int, accuracy: float | None) -> bool:
    return labels >= MIN_LABELS and accuracy is not None and accuracy > MIN_ACCURACY


def prime_detector(
    gl: Any,
    detector_id: str,
    images: LabelledImages,
    count: int,
    *,
    start_index: int = 0,
    deadline: float | None = None,
    concurrency: int = PRIMING_CONCURRENCY,
) -> int:
    """Submit `count` labelled images to the cloud (asynchronously) and label each with its
    right answer, up to `concurrency` images at once; returns the number labelled (fewer if the
    `time.monotonic()` deadline passes first). The first error stops it and propagates."""
    if count <= 0:
        return 0
    lock = threading.Lock()
    state = {"next": 0, "done": 0, "error": None}

    def one(i: int) -> None:
        data, answer, *rest = images(start_index + i)
        rois = _sdk_rois(rest[0]) if rest else None
        image_query = gl.ask_async(detector_id, data, human_review="NEVER")
        gl.add_label(image_query, answer, rois=rois)

    def worker() -> None:
        while True:
            with lock:
                i = state["next"]
                if i >= count or state["error"] is not None:
                    return
                if deadline is not None and time.monotonic() >= deadline:
                    return
                state["next"] = i + 1
            try:
                one(i)
            except Exception as exc:  # handed to the caller below
                with lock:
                    state["error"] = state["error"] or exc
                return
            with lock:
                state["done"] += 1

    workers = max(1, min(concurrency, count, _connection_pool_size(gl)))
    if workers == 1:
        worker()
    else:
        with ThreadPoolExecutor(workers, thread_name_prefix="edgeload-priming") as pool:
            futures = [pool.submit(worker) for _ in range(workers)]
            try:
                for future in futures:
                    future.result()
            except BaseException:  # Ctrl-C, SIGTERM: start no more images, then go
                with lock:
                    state["next"] = count
                raise
    if state["error"] is not None:
        raise state["error"]
    return state["done"]


def _connection_pool_size(gl: Any) -> int:
    """How many connections the SDK client keeps per host (large if unknown)."""
    try:
        kw = gl.api_client.rest_client.pool_manager.connection_pool_kw
        return max(1, int(kw.get("maxsize", 1)))
    except (AttributeError, TypeError, ValueError):
        return PRIMING_CONCURRENCY


def _wait(timeout_s: float, poll_s: float, progress_every_s: float, progress: Progress) -> Wait:
    """A provisioning wait: polls start at FIRST_POLL_S and grow to `poll_s`."""
    return Wait(
        timeout_s,
        progress=progress,
        max_pause_s=poll_s,
        first_pause_s=FIRST_POLL_S,
        growth=POLL_FRACTION,
        progress_every_s=progress_every_s,
    )


def _train(
    gl: Any,
    detectors: list[Any],
    images: LabelledImages,
    timeout_s: float,
    labels: dict[str, int],
    accuracy: dict[str, float | None],
    *,
    poll_s: float,
    progress_every_s: float,
    progress: Progress,
) -> None:
    """Label each detector until its evaluation says it is trained enough. A round of labels
    goes in first (MIN_LABELS minus what it has, or EXTRA_LABELS), and another only once the
    cloud has published a new evaluation that is still too weak."""
    added = dict.fromkeys((d.id for d in detectors), 0)
    rounds = dict.fromkeys(added, 0)
    stamp_at_round: dict[str, Any] = {}
    pending = set(added)
    wait = _wait(timeout_s, poll_s, progress_every_s, progress)
    while True:
        for det_id in sorted(pending):
            have, acc, stamp = _patiently(
                lambda d=det_id: evaluation_of(gl, d), "GET detector evaluation", progress
            )
            labels[det_id], accuracy[det_id] = have, acc
            if is_trained_enough(have, acc):
                pending.discard(det_id)
                continue
            fresh_verdict = acc is not None and stamp != stamp_at_round.get(det_id)
            if rounds[det_id] > 0 and not fresh_verdict:
                continue  # training on our labels is still running
            if rounds[det_id] >= MAX_PRIMING_ROUNDS:
                raise RunError(
                    f"detector {det_id} is still not trained enough after {added[det_id]} "
                    f"labels (projected accuracy {_fmt(acc)}, needs > {MIN_ACCURACY}); "
                    "check the detector in the Groundlight app"
                )
            count = MIN_LABELS - have if have < MIN_LABELS else EXTRA_LABELS
            progress(
                f"detector {det_id}: {have} labels, projected accuracy {_fmt(acc)}; "
                f"adding {count} labelled images"
            )
            stamp_at_round[det_id] = stamp
            started = time.monotonic()
            done = prime_detector(
                gl, det_id, images, count, start_index=added[det_id], deadline=wait.deadline
            )
            progress(
                f"detector {det_id}: labelled {done} images in {time.monotonic() - started:.1f} s; "
                "waiting for training"
            )
            added[det_id] += done
            labels[det_id] = have + done
            rounds[det_id] += 1
            wait.restart_backoff()  # a new wait for training starts
        if not pending:
            return
        wait.pause(
            timed_out=lambda waiting=pending: (
                f"training did not finish within {timeout_s:g} s for "
                + ", ".join(
                    f"{i} ({labels.get(i, 0)} labels, accuracy {_fmt(accuracy.get(i))})"
                    for i in sorted(waiting)
                )
                + "; raise the provisioning timeout or check the detectors in the Groundlight app"
            ),
            lines=lambda left, waiting=pending: [
                f"waiting for training of {det_id}: {labels.get(det_id, 0)} labels, "
                f"projected accuracy {_fmt(accuracy.get(det_id))} (needs >= {MIN_LABELS} "
                f"labels and > {MIN_ACCURACY}); {left:.0f} s left"
                for det_id in sorted(waiting)
            ],
        )


def _fmt(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.2f}"


# --------------------------------------------------------------------------------------------
# step 3: the edge


def _wait_for_edge(
    gl: Any,
    detectors: list[Any],
    images: LabelledImages,
    timeout_s: float,
    *,
    target: Any,
    poll_s: float,
    progress_every_s: float,
    progress: Progress,
    edge_pipeline_config: str | None = None,
) -> dict[str, PipelineConfig]:
    """Submit image queries until each detector gets an edge answer and the edge runs the
    cloud's current pipeline config (when both are known). Returns detector id -> config.
    With `edge_pipeline_config`, the edge's status page must say it runs exactly that one."""
    status = target if target is not None else status_target_of(gl)
    settle_s = getattr(target, "edge_readiness_cache_s", EDGE_READINESS_CACHE_S)
    asker = _EdgeAsker(gl, images, settle_s)
    pending = {d.id for d in detectors}
    configs: dict[str, PipelineConfig] = {}
    wait = _wait(timeout_s, poll_s, progress_every_s, progress)
    while True:
        expected = {d: cloud_pipeline_config(gl, d) for d in pending}
        edge_details = _edge_detector_details(status)
        for det_id in sorted(pending):
            if not asker.edge_serves(det_id, edge_details.get(det_id, {})):
                continue
            on_edge = edge_details.get(det_id, {}).get("pipeline_config")
            on_edge = on_edge if isinstance(on_edge, str) else None
            wanted = expected.get(det_id)
            problem = _pipeline_problem(on_edge, wanted, edge_pipeline_config)
            if problem:
                asker.state[det_id] = problem
                continue
            configs[det_id] = _provenance(on_edge, wanted)
            progress(f"detector {det_id}: the edge answers it ({configs[det_id].describe()})")
        pending -= set(configs)
        if not pending:
            return configs
        wait.pause(
            timed_out=lambda waiting=pending: (
                f"the edge did not serve the detectors within {timeout_s:g} s"
                + (
                    f" with edge pipeline config {edge_pipeline_config!r}"
                    if edge_pipeline_config is not None
                    else ""
                )
                + f" ({asker.describe(waiting)}); check the endpoint's /status page and "
                "inference pods"
            ),
            lines=lambda left, waiting=pending: [
                f"waiting for the edge to serve {det_id}: "
                f"{asker.state.get(det_id, 'asking')}; {left:.0f} s left"
                for det_id in sorted(waiting)
            ],
        )


class _EdgeAsker:
    """Asks the edge one image query per detector and poll, and says whether the edge serves
    the detector: it answered from the edge, and has for longer than the edge app's readiness
    cache since the last answer that did not come from the edge (EDGE_READINESS_CACHE_S).

    While the status page says a detector's edge inference is still `initializing`, the image
    query (which the edge escalates to the cloud until its pod is ready) is sent only every
    ASK_WHILE_INITIALIZING_S: the status page is what is polled in between."""

    def __init__(self, gl: Any, images: LabelledImages, settle_s: float) -> None:
        self.gl = gl
        self.images = images
        self.settle_s = settle_s
        self.state: dict[str, str] = {}  # what each detector waits for, for the progress line
        self.asked_at: dict[str, float] = {}
        self.not_edge_at: dict[str, float] = {}  # its last answer not from the edge
        self.attempt = 0

    def edge_serves(self, det_id: str, edge_detail: dict) -> bool:
        if (
            edge_detail.get("status") == "initializing"
            and det_id in self.asked_at
            and time.monotonic() - self.asked_at[det_id] < ASK_WHILE_INITIALIZING_S
        ):
            answered = self.state.get(det_id, "no answer yet").split("; ")[0]
            self.state[det_id] = f"{answered}; the status page says initializing"
            return False
        self.asked_at[det_id] = time.monotonic()
        data = self.images(10_000 + self.attempt)[0]
        self.attempt += 1
        try:
            # threshold 0: a ready inference pod answers itself; otherwise the query is
            # escalated and comes back from the cloud.
            answer = self.gl.submit_image_query(
                det_id, data, wait=0, confidence_threshold=0.0, human_review="NEVER"
            )
        except Exception as exc:  # 503 while no pod is ready, 500 during a rollout
            return self._not_yet(det_id, f"no edge answer yet ({_short_error(exc)})")
        if not answered_from_edge(answer):
            return self._not_yet(det_id, "answers come from the cloud (edge inference not ready)")
        since = time.monotonic() - self.not_edge_at.get(det_id, -math.inf)
        if since < self.settle_s:
            self.state[det_id] = (
                f"the edge answers; {self.settle_s - since:.0f} s more until every edge-app "
                "worker's readiness cache has seen the pod ready"
            )
            return False
        return True

    def _not_yet(self, det_id: str, why: str) -> bool:
        self.state[det_id] = why
        self.not_edge_at[det_id] = time.monotonic()
        return False

    def describe(self, waiting: set[str]) -> str:
        return "; ".join(f"{d}: {self.state.get(d, 'no answer')}" for d in sorted(waiting))


def _pipeline_problem(
    on_edge: str | None, wanted: str | None, edge_pipeline_config: str | None
) -> str | None:
    """Why an edge that answers does not yet run the pipeline config it should (None: it
    does, or nothing says otherwise)."""
    if edge_pipeline_config is not None:
        if on_edge is None:
            return (
                "the edge answers, but its status page does not say which pipeline config it "
                f"runs (waiting for {edge_pipeline_config!r})"
            )
        if not same_pipeline_config(on_edge, edge_pipeline_config):
            return (
                f"the edge runs pipeline config {one_line(on_edge, 40)!r}, not "
                f"{edge_pipeline_config!r} (updating)"
            )
        return None
    if on_edge is not None and wanted is not None and on_edge != wanted:
        return "edge answers, but runs an older pipeline config (updating)"
    return None


def answered_from_edge(image_query: Any) -> bool:
    """Whether an SDK ImageQuery was answered by the edge itself."""
    result = getattr(image_query, "result", None)
    if result is not None and getattr(result, "from_edge", None):
        return True
    metadata = getattr(image_query, "metadata", None) or {}
    return bool(isinstance(metadata, dict) and metadata.get("is_from_edge"))


def _provenance(on_edge: str | None, from_cloud: str | None) -> PipelineConfig:
    if on_edge is not None:
        return PipelineConfig(on_edge, "edge", True)
    if from_cloud is not None:
        return PipelineConfig(from_cloud, "cloud", False)
    return PipelineConfig(None, "unknown", False)


def _short_error(exc: Exception) -> str:
    status = getattr(exc, "status", None)
    if status is None and exc.__cause__ is not None:
        status = getattr(exc.__cause__, "status", None)
    return f"HTTP {status}" if status else one_line(f"{type(exc).__name__}: {exc}", 80)


def cloud_pipeline_config(gl: Any, detector_id: str) -> str | None:
    """The pipeline config of the detector's current model, as the cloud gives it to edges
    (fetch-model-urls); None where the cloud does not say."""
    try:
        info = gl._download_mlbinary_url(detector_id)  # the SDK's fetch-model-urls call
    except Exception:
        return None
    config = getattr(info, "pipeline_config", None)
    return config if isinstance(config, str) and config else None


# --------------------------------------------------------------------------------------------
# the endpoint's status page


def fetch_metrics(target: Any, *, timeout_s: float = 10.0) -> dict:
    """`/status/metrics.json` with its JSON-in-string fields decoded (best effort)."""
    body = target.get_json(METRICS_PATH, timeout_s=timeout_s)
    if not isinstance(body, dict):
        raise ValueError(f"{METRICS_PATH} is not a JSON object")
    return _decode_nested(body)


def _decode_nested(value: Any) -> Any:
    """Decode values that are JSON documents inside strings, at any depth."""
    if isinstance(value, dict):
        return {k: _decode_nested(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode_nested(v) for v in value]
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return _decode_nested(json.loads(value))
        except ValueError:
            return value
    return value


def detector_details(metrics: dict) -> dict:
    """detector id -> details (status, pipeline_config, ...) from decoded metrics."""
    details = metrics.get("detector_details")
    return details if isinstance(details, dict) else {}


def _edge_detector_details(target: Any) -> dict[str, dict]:
    """detector id -> details from the status page; {} where it cannot be read."""
    try:
        details = detector_details(fetch_metrics(target))
    except Exception:  # not every endpoint publishes it; the edge answer is what counts then
        return {}
    return {det_id: info for det_id, info in details.items() if isinstance(info, dict)}


def fetch_pipeline_config(target: Any, detector_id: str) -> str | None:
    """The pipeline config the edge runs for a detector (from /status/metrics.json), or None
    when the endpoint does not publish one. Network errors propagate (OSError/ValueError)."""
    details = detector_details(fetch_metrics(target)).get(detector_id)
    if not isinstance(details, dict):
        return None
    config = details.get("pipeline_config")
    return config if isinstance(config, str) else None


def fetch_endpoint_images(target: Any) -> dict:
    """{"edge_endpoint": image, "inference_server": image} from /status/metrics.json (None where
    unknown). Network errors propagate (OSError/ValueError)."""
    return endpoint_images(fetch_metrics(target))


def endpoint_images(metrics: dict) -> dict:
    """The container images named in decoded metrics (k3s_stats.container_images)."""
    stats = metrics.get("k3s_stats")
    images = stats.get("container_images") if isinstance(stats, dict) else None
    found: dict[str, str | None] = {"edge_endpoint": None, "inference_server": None}
    if not isinstance(images, dict):
        return found
    for pod, containers in sorted(images.items()):
        if not isinstance(containers, dict):
            continue
        for container, image in containers.items():
            if container == "edge-endpoint" and str(pod).startswith("edge-endpoint"):
                found["edge_endpoint"] = found["edge_endpoint"] or image
            elif container == "inference-server":
                found["inference_server"] = found["inference_server"] or image
    return found


# --------------------------------------------------------------------------------------------
# labelled images for priming


def synthetic_labelled_images(
    mode: str,
    image_size: Sequence[int],
    *,
    mode_size: int | None = None,
    class_names: Sequence[str] | None = None,
) -> LabelledImages:
    """index -> (JPEG bytes, right answer, ROIs) for priming, from `edgeload.images` (the same
    pictures the load users send): BINARY alternates black and white canvases, COUNT draws
    0..mode_size circles (0..10 by default), MULTI_CLASS cycles through the classes (answer:
    the class name, `class_names[i]` for a detector with names of its own), BOUNDING_BOX draws
    0..mode_size circles (answer BOUNDING_BOX with one ROI per circle, or NO_OBJECTS). A few
    distinct images are made once and reused."""
    mode = check_mode(mode)
    width, height = check_image_size(image_size)
    if class_names:
        mode_size = len(class_names)
    size = modes_module.resolve_n(mode, mode_size) if mode_size is not None else None
    distinct = max(12, size or 0) if mode == "MULTI_CLASS" else 12
    cache: dict[int, tuple[bytes, str | int, list]] = {}

    def image(index: int) -> tuple[bytes, str | int, list]:
        key = index % distinct
        if key not in cache:
            rng = random.Random(key)
            made = images_module.make_image(mode, width, height, rng, key=key, n=size)
            answer = made.answer
            if mode == "MULTI_CLASS" and class_names:
                answer = class_names[int(answer)]
            cache[key] = (made.jpeg, answer, list(made.rois))
        return cache[key]

    return image


def _sdk_rois(rois: Sequence[Any]) -> list | None:
    """SDK ROI objects for the boxes of a COUNT image (labels of counting detectors carry
    one box per object)."""
    if not rois:
        return None
    from groundlight import ROI, BBoxGeometry

    result = []
    for roi in rois:
        (left, top), (right, bottom) = roi.top_left, roi.bottom_right
        geometry = BBoxGeometry(
            left=left,
            top=top,
            right=right,
            bottom=bottom,
            x=(left + right) / 2,
            y=(top + bottom) / 2,
        )
        result.append(ROI(label=roi.label, score=1.0, geometry=geometry))
    return result


def status_target_of(gl: Any) -> Target:
    """A Target for the endpoint an SDK client talks to, with its TLS settings, so that the
    status page can be read without being handed the Target."""
    configuration = gl.configuration
    verify = configuration.verify_ssl
    return Target(
        kind="sdk",
        url=gl.endpoint,
        token=_token_of(gl) or "",
        verify_tls=verify is not False,
        ca_bundle=verify if isinstance(verify, str) else configuration.ssl_ca_cert,
    )


def _token_of(gl: Any) -> str | None:
    try:
        return gl.configuration.api_key["ApiToken"]
    except (AttributeError, KeyError, TypeError):
        return None
