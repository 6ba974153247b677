"""The simulated Groundlight cloud's state: detectors, image queries, labels, training, models.

Its HTTP API is `cloud_api.py` (on its own port, and behind the box's nginx fallback); this
module is the in-memory model it serves from. Only cloud image queries are stored: an answer
the edge gives itself is unknown here unless the edge escalates it (under the same id).

Training: once a detector has `training_labels` labels (profile `cloud` section) a training job
starts and finishes `training_delay_s` simulated seconds later with a new model version; every
further `training_labels` labels train again. The edge model updater picks new versions up
through `latest_model()`; a trained version has model binaries (`binary_ids`), a zero-shot one
has none. Confidence: an untrained model is never confident (<= 0.6); a trained one is as
confident as the image is clear (see `answers.py`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import random
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from edgeload.sim.answers import Truth

MODES = ("BINARY", "COUNT", "MULTI_CLASS", "BOUNDING_BOX")
RESULT_TYPES = {
    "BINARY": "binary_classification",
    "COUNT": "counting",
    "MULTI_CLASS": "multi_classification",
    "BOUNDING_BOX": "bounding_box",
}
BBOX_LABELS = ("BOUNDING_BOX", "NO_OBJECTS", "GREATER_THAN_MAX", "UNCLEAR")
# a model result of a BOUNDING_BOX detector carries its ROIs under this key: the image query
# puts them in its top-level `rois` (where the real API has them), not in `result`
ROIS_KEY = "_rois"
MAX_EDGE_PIPELINE_CONFIG = 100  # characters, as the API's detector creation takes it
# bounded memory: image queries kept for GET / labels (oldest forgotten first)
MAX_IMAGE_QUERIES = 200_000
# images kept for GET /v1/image-queries/{id}/image: the newest this many, in at most this many
# bytes (an older image query's image answers 404; a real cloud keeps every image)
MAX_IMAGES = 2_000
MAX_IMAGE_BYTES = 64 * 1024 * 1024
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


_iso_second = [-1, ""]  # the last whole second formatted, and its text (the hot path's cache)


def iso(ts: float) -> str:
    """UNIX seconds -> ISO-8601 UTC with microseconds and a Z, like the cloud."""
    frac, whole = math.modf(ts)
    micro = round(frac * 1e6)  # as datetime.fromtimestamp rounds
    if ts < 0 or micro >= 1_000_000:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    second = int(whole)
    if second != _iso_second[0]:
        _iso_second[0] = second
        _iso_second[1] = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
    return f"{_iso_second[1]}{micro:06d}Z"


_TOKEN_RE = re.compile(r"^[A-Za-z0-9_]{20}")


def misreads(truth: Truth, rate: float) -> bool:
    """Whether a trained edge model reads this image wrongly: a fixed pseudo-random share
    `rate` of images, always the same ones (from the image's digest)."""
    if rate <= 0:
        return False
    return ((truth.digest * 0x9E3779B1) & 0xFFFFFFFF) / 2**32 < rate


def _b62(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        n, r = divmod(n, 62)
        out.append(_B62[r])
    return "".join(reversed(out))


class IdMaker:
    """KSUID-like ids: prefix + 27 base-62 characters (time, random process part, counter)."""

    def __init__(self) -> None:
        self._random = _b62(int.from_bytes(os.urandom(8), "big"), 11)
        self._counter = itertools.count(int.from_bytes(os.urandom(4), "big"))
        self._second = -1
        self._head = ""

    def make(self, prefix: str) -> str:
        now = int(time.time())
        if now != self._second:  # the time part changes once a second
            self._second = now
            self._head = _b62(now, 6) + self._random
        return prefix + self._head + _b62(next(self._counter), 10)


def _ksuid_of(text: str) -> str:
    """A stable 27-character base-62 id derived from `text` (a model binary's KSUID)."""
    return _b62(int.from_bytes(hashlib.sha256(text.encode()).digest()[:20], "big"), 27)


def image_query_json(
    det: Any,
    iq_id: str,
    created: str,
    result: dict | None,
    threshold: float,
    patience: float,
    metadata: dict | None,
    done_processing: bool,
) -> dict:
    """An ImageQuery as the cloud and the edge app serialize it."""
    rois = None
    if result is not None and ROIS_KEY in result:
        rois = result[ROIS_KEY]
        result = {k: v for k, v in result.items() if k != ROIS_KEY}
    return {
        "metadata": metadata,
        "id": iq_id,
        "type": "image_query",
        "created_at": created,
        "query": det.query,
        "detector_id": det.id,
        "result_type": RESULT_TYPES[det.mode],
        "result": result,
        "patience_time": patience,
        "confidence_threshold": threshold,
        "rois": rois,
        "text": None,
        "done_processing": done_processing,
    }


@dataclass
class CloudDetector:
    id: str
    name: str
    query: str
    mode: str
    mode_configuration: dict | None
    confidence_threshold: float
    patience_time: float
    group_name: str
    metadata: dict | None
    created_at: str
    labels: int = 0
    label_values: dict[str, int] = field(default_factory=dict)
    model_version: int = 1
    trained_version: int = 0  # first version that learnt from labels (0 = none yet)
    training_due: float | None = None  # simulated time at which the running training ends
    last_trained_labels: int = 0
    trained_at: float | None = None  # simulated wall time
    pipeline_config: str = ""
    # the edge pipeline config the detector was created with (or set to through the admin
    # API); None: the mode's default pipeline
    edge_pipeline_config: str | None = None

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "type": "detector",
            "created_at": self.created_at,
            "name": self.name,
            "query": self.query,
            "group_name": self.group_name,
            "confidence_threshold": self.confidence_threshold,
            "patience_time": self.patience_time,
            "metadata": self.metadata,
            "mode": self.mode,
            "mode_configuration": self.mode_configuration,
            "status": "ON",
            "escalation_type": "STANDARD",
        }

    @property
    def max_count(self) -> int:
        return int((self.mode_configuration or {}).get("max_count") or 10)

    @property
    def max_num_bboxes(self) -> int:
        return int((self.mode_configuration or {}).get("max_num_bboxes") or 10)

    @property
    def class_names(self) -> list[str]:
        return list((self.mode_configuration or {}).get("class_names") or ["A", "B"])


class CloudError(Exception):
    """A request the cloud refuses: status and a JSON-able detail."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(str(detail))
        self.status = status
        self.detail = detail


def _pipeline_config(det: CloudDetector, version: int) -> str:
    # a detector's own edge pipeline config is what its edge models run, as it was given
    if det.edge_pipeline_config:
        return det.edge_pipeline_config
    # YAML text, like the real pipeline configs the status page shows
    kind = (
        "knn-efficientnet"
        if det.trained_version and version >= det.trained_version
        else "zero-shot-vlm"
    )
    return (
        f"pipeline: {kind}\n"
        f"mode: {det.mode}\n"
        f"model_version: {version}\n"
        f"trained_on_labels: {det.last_trained_labels}\n"
    )


def _bbox_result(
    det: CloudDetector, truth: Truth, confidence: float, right: bool, source: str, edge: bool
) -> dict:
    """A bounding-box answer: BOUNDING_BOX with one ROI per object (at most max_num_bboxes;
    GREATER_THAN_MAX beyond), or NO_OBJECTS. The boxes lie on a grid (the simulator knows how
    many objects an image shows, not where)."""
    count = truth.count if right else truth.count + 1
    most = det.max_num_bboxes
    shown = min(count, most)
    if count == 0:
        label = "NO_OBJECTS"
    elif count > most:
        label = "GREATER_THAN_MAX"
    else:
        label = "BOUNDING_BOX"
    class_name = str((det.mode_configuration or {}).get("class_name") or "object")
    columns = max(1, math.ceil(math.sqrt(shown)))
    rows = max(1, math.ceil(shown / columns))
    rois = []
    for i in range(shown):
        row, column = divmod(i, columns)
        left, top = (column + 0.2) / columns, (row + 0.2) / rows
        right_, bottom = (column + 0.8) / columns, (row + 0.8) / rows
        geometry = {
            "left": round(left, 4),
            "top": round(top, 4),
            "right": round(right_, 4),
            "bottom": round(bottom, 4),
            "x": round((left + right_) / 2, 4),
            "y": round((top + bottom) / 2, 4),
        }
        rois.append({"label": class_name, "score": confidence, "geometry": geometry})
    return {
        "confidence": confidence,
        "source": source,
        "result_type": None,
        "from_edge": edge,
        "label": label,
        ROIS_KEY: rois,
    }


def _mode_configuration(mode: str, given: Any) -> tuple[dict | None, str | None]:
    """A detector's stored mode_configuration from the one asked for, or the API's complaint
    about it (the real API's bounds: max_count and max_num_bboxes 1..50)."""
    cfg = given if isinstance(given, dict) else {}
    if mode == "COUNT" or mode == "BOUNDING_BOX":
        field = "max_count" if mode == "COUNT" else "max_num_bboxes"
        most = cfg.get(field)
        if not isinstance(cfg.get("class_name"), str):
            return None, f"{mode} detectors need mode_configuration.class_name."
        if most is not None and (not isinstance(most, int) or not 1 <= most <= 50):
            return None, f"{field} must be between 1 and 50."
        return {"class_name": cfg["class_name"], field: most or 10}, None
    if mode == "MULTI_CLASS":
        names = cfg.get("class_names")
        if not isinstance(names, list) or len(names) < 2:
            return None, "MULTI_CLASS detectors need at least 2 class_names."
        return {"class_names": [str(n) for n in names], "num_classes": len(names)}, None
    return None, None


class Cloud:
    """In-memory cloud state. All times are simulated (`clock.now()` / `clock.wall()`)."""

    def __init__(
        self, clock: Any, cloud_profile: Any = None, rng: random.Random | None = None
    ) -> None:
        self.clock = clock
        self.training_labels = max(1, int(getattr(cloud_profile, "labels_to_train", 30)))
        self.training_delay_s = float(getattr(cloud_profile, "training_delay_s", 20.0))
        self.latency_s = float(getattr(cloud_profile, "cloud_latency_ms", 400.0)) / 1000.0
        self.accuracy = float(getattr(cloud_profile, "projected_accuracy", 0.92))
        self.edge_error_rate = float(getattr(cloud_profile, "edge_model_error_rate", 0.0))
        self.detectors: dict[str, CloudDetector] = {}
        self._by_name: dict[str, str] = {}
        # iq id -> [detector id, created_at, result dict|None, answer-ready sim time, body extras]
        self.image_queries: dict[str, list] = {}
        self.ids = IdMaker()
        self.rng = rng or random.Random()
        self.counters = {"image_queries": 0, "labels": 0, "trainings": 0}
        self._binary_ids: dict[tuple[str, int | None], tuple[str | None, str | None]] = {}
        self.images: dict[str, bytes] = {}  # iq id -> image, oldest first (see MAX_IMAGES)
        self._image_bytes = 0

    # -- detectors ---------------------------------------------------------------------------
    def create_detector(self, body: Any) -> dict:
        if not isinstance(body, dict):
            raise CloudError(400, {"detail": "JSON object expected"})
        errors: dict[str, list[str]] = {}
        name = body.get("name")
        query = body.get("query")
        if not isinstance(name, str) or not 1 <= len(name) <= 200:
            errors["name"] = ["Ensure this field has between 1 and 200 characters."]
        if not isinstance(query, str) or not 1 <= len(query) <= 300:
            errors["query"] = ["Ensure this field has between 1 and 300 characters."]
        mode = body.get("mode") or "BINARY"
        if mode not in MODES:
            errors["mode"] = [f'"{mode}" is not a valid choice (simulated: {", ".join(MODES)}).']
        threshold = body.get("confidence_threshold", 0.9)
        if threshold is None:
            threshold = 0.9
        if not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
            errors["confidence_threshold"] = ["Ensure this value is between 0 and 1."]
        patience = body.get("patience_time", 30.0) or 30.0
        if not isinstance(patience, int | float) or not 0 <= patience <= 3600:
            errors["patience_time"] = ["Ensure this value is between 0 and 3600."]
        mode_cfg, mode_problem = _mode_configuration(mode, body.get("mode_configuration"))
        if mode_problem:
            errors["mode_configuration"] = [mode_problem]
        edge_pipeline = body.get("edge_pipeline_config")
        if edge_pipeline is not None and (
            not isinstance(edge_pipeline, str)
            or not edge_pipeline.strip()
            or len(edge_pipeline) > MAX_EDGE_PIPELINE_CONFIG
        ):
            errors["edge_pipeline_config"] = [
                f"Ensure this field has between 1 and {MAX_EDGE_PIPELINE_CONFIG} characters."
            ]
        if isinstance(name, str) and name in self._by_name:
            errors["name"] = [f"A detector with name '{name}' already exists."]
        if errors:
            raise CloudError(400, errors)
        metadata = body.get("metadata")
        det = CloudDetector(
            id=self.ids.make("det_"),
            name=name,
            query=query,
            mode=mode,
            mode_configuration=mode_cfg,
            confidence_threshold=float(threshold),
            patience_time=float(patience),
            group_name=body.get("group_name") or "default",
            metadata=metadata if isinstance(metadata, dict) else None,
            created_at=iso(self.clock.wall()),
            edge_pipeline_config=edge_pipeline,
        )
        det.pipeline_config = _pipeline_config(det, det.model_version)
        self.detectors[det.id] = det
        self._by_name[name] = det.id
        return det.to_json()

    def get(self, detector_id: str) -> CloudDetector:
        det = self.detectors.get(detector_id)
        if det is None:
            raise CloudError(404, {"detail": "Not found."})
        self._advance(det)
        return det

    def find(self, detector_id: str) -> CloudDetector | None:
        det = self.detectors.get(detector_id)
        if det is not None and det.training_due is not None:
            self._advance(det)
        return det

    def list_detectors(self, name: str | None, page: int, page_size: int) -> dict:
        if name is not None:
            det_id = self._by_name.get(name)
            items = [self.detectors[det_id]] if det_id else []
        else:
            items = list(self.detectors.values())
        start = (max(page, 1) - 1) * page_size
        results = [d.to_json() for d in items[start : start + page_size]]
        return {"count": len(items), "next": None, "previous": None, "results": results}

    def patch(self, detector_id: str, body: Any) -> dict:
        det = self.get(detector_id)
        if not isinstance(body, dict):
            raise CloudError(400, {"detail": "JSON object expected"})
        if "confidence_threshold" in body:
            t = body["confidence_threshold"]
            if not isinstance(t, int | float) or not 0 <= t <= 1:
                raise CloudError(
                    400, {"confidence_threshold": ["Ensure this value is between 0 and 1."]}
                )
            det.confidence_threshold = float(t)
        if "patience_time" in body:
            p = body["patience_time"]
            if not isinstance(p, int | float) or not 0 <= p <= 3600:
                raise CloudError(
                    400, {"patience_time": ["Ensure this value is between 0 and 3600."]}
                )
            det.patience_time = float(p)
        if isinstance(body.get("name"), str) and body["name"] != det.name:
            if body["name"] in self._by_name:
                raise CloudError(400, {"name": ["A detector with this name already exists."]})
            del self._by_name[det.name]
            det.name = body["name"]
            self._by_name[det.name] = det.id
        return det.to_json()

    def evaluation(self, detector_id: str) -> dict:
        det = self.get(detector_id)
        trained = det.trained_version > 0
        n = det.last_trained_labels if trained else 0
        # approaches the profile's projected accuracy as labels accumulate
        accuracy = 0.5 + (self.accuracy - 0.5) * (1 - math.exp(-n / 10.0)) if trained else None
        acc = round(accuracy, 4) if accuracy is not None else None
        return {
            "evaluation_results": {
                "eval_timestamp": iso(det.trained_at) if det.trained_at else det.created_at,
                "total_ground_truth_examples": det.labels,
                "total_labeled_examples": det.labels,
                "kfold_pooled__balanced_accuracy": acc,
                "kfold_pooled__positive_accuracy": acc,
                "kfold_pooled__negative_accuracy": acc,
                "precision__mean": acc,
                "recall__mean": acc,
                "roc_auc__mean": acc,
                "balanced_system_accuracies": None,
                "positive_system_accuracies": None,
                "negative_system_accuracies": None,
                "mean_absolute_error__mean": None,
                "objdet_precision__mean": None,
                "objdet_recall__mean": None,
                "objdet_f1_score__mean": None,
                "class_accuracies": None,
                "confusion_dict": None,
                "num_examples_per_class": None,
            }
        }

    # -- models ------------------------------------------------------------------------------
    def _advance(self, det: CloudDetector) -> None:
        """Finish a training job whose time has come."""
        if det.training_due is not None and self.clock.now() >= det.training_due:
            det.training_due = None
            det.model_version += 1
            if det.trained_version == 0:
                det.trained_version = det.model_version
            det.trained_at = self.clock.wall()
            det.pipeline_config = _pipeline_config(det, det.model_version)
            self.counters["trainings"] += 1

    def detector_size(self, detector_id: str) -> int | None:
        """A detector's size n (COUNT max count, MULTI_CLASS classes, BOUNDING_BOX max boxes);
        None else."""
        det = self.find(detector_id)
        if det is None:
            return None
        if det.mode == "COUNT":
            return det.max_count
        if det.mode == "MULTI_CLASS":
            return len(det.class_names)
        if det.mode == "BOUNDING_BOX":
            return det.max_num_bboxes
        return None

    def latest_model(self, detector_id: str) -> tuple[int, str] | None:
        """(model version, pipeline config) the edge should run; None for an unknown detector."""
        det = self.find(detector_id)
        if det is None:
            return None
        return det.model_version, det.pipeline_config

    def new_model(self, detector_id: str) -> tuple[int, str]:
        """Force a new model version now (the admin API's rollout trigger)."""
        det = self.get(detector_id)
        det.model_version += 1
        if det.trained_version == 0:
            det.trained_version = det.model_version
            det.trained_at = self.clock.wall()
        det.pipeline_config = _pipeline_config(det, det.model_version)
        return det.model_version, det.pipeline_config

    def set_edge_pipeline_config(self, detector_id: str, config: str | None) -> tuple[int, str]:
        """Give a detector another edge pipeline config (None: the mode's default): a new model
        version with it, which the edge's model updater rolls out."""
        det = self.get(detector_id)
        if config is not None and (
            not isinstance(config, str)
            or not config.strip()
            or len(config) > MAX_EDGE_PIPELINE_CONFIG
        ):
            raise CloudError(
                400, {"edge_pipeline_config": ["Ensure this field has 1 to 100 characters."]}
            )
        det.edge_pipeline_config = config
        return self.new_model(detector_id)

    def is_trained(self, det: CloudDetector, version: int | None) -> bool:
        return det.trained_version > 0 and version is not None and version >= det.trained_version

    def model_urls(self, detector_id: str) -> dict:
        """fetch-model-urls: the pipeline configs, predictor metadata (JSON text) and, for a
        trained model, its binaries; a zero-shot model has no binary."""
        det = self.get(detector_id)
        v = det.model_version
        primary, oodd = self.binary_ids(det.id, v)
        out: dict[str, Any] = {
            "pipeline_config": det.pipeline_config,
            "oodd_pipeline_config": "pipeline: oodd\n",
            "predictor_metadata": json.dumps(
                {"text_query": det.query, "mode": det.mode, "detector_name": det.name}
            ),
        }
        if primary is not None:
            out["model_binary_id"] = primary
            out["model_binary_url"] = f"https://sim.invalid/models/{det.id}/{v}"
            out["oodd_model_binary_id"] = oodd
            out["oodd_model_binary_url"] = f"https://sim.invalid/models/{det.id}/oodd/{v}"
        return out

    # -- labels ------------------------------------------------------------------------------
    def add_label(self, body: Any) -> dict:
        if not isinstance(body, dict):
            raise CloudError(400, {"detail": "JSON object expected"})
        iq_id = body.get("image_query_id")
        label = body.get("label")
        record = self.image_queries.get(iq_id) if isinstance(iq_id, str) else None
        if record is None:
            raise CloudError(404, {"detail": f"Image query {iq_id!r} not found."})
        det = self.get(record[0])
        valid = self._valid_labels(det)
        if valid is not None and label not in valid:
            raise CloudError(
                400, {"label": [f"Invalid label {label!r} for a {det.mode} detector."]}
            )
        det.labels += 1
        det.label_values[str(label)] = det.label_values.get(str(label), 0) + 1
        self.counters["labels"] += 1
        due = det.labels - det.last_trained_labels >= self.training_labels
        if due and det.training_due is None:
            det.last_trained_labels = det.labels
            det.training_due = self.clock.now() + self.training_delay_s
        return {
            "id": self.ids.make("lbl_"),
            "confidence": None,
            "class_name": str(label) if label is not None else None,
            "rois": None,
            "annotations_requested": [],
            "created_at": iso(self.clock.wall()),
            "detector_id": None,
            "source": "CUSTOMER",
            "text": None,
        }

    @staticmethod
    def _valid_labels(det: CloudDetector) -> set | None:
        if det.mode == "BINARY":
            return {"YES", "NO", "UNCLEAR"}
        if det.mode == "MULTI_CLASS":
            return set(det.class_names) | {"UNCLEAR"}
        if det.mode == "BOUNDING_BOX":
            return set(BBOX_LABELS)
        return None  # COUNT: the label is the count

    # -- answers -----------------------------------------------------------------------------
    def model_result(
        self, det: CloudDetector, truth: Truth, trained: bool, from_edge: bool
    ) -> dict:
        """The result of a model of the detector looking at an image."""
        if trained and from_edge and misreads(truth, self.edge_error_rate):
            # a trained edge model that reads this image wrongly, and is less sure of it
            confidence = round(0.5 + 0.3 * truth.clarity, 4)
            label_ok = False
        elif trained:
            confidence = round(0.55 + 0.44 * truth.clarity, 4)
            label_ok = True
        else:
            # an untrained model guesses, never confidently
            confidence = round(0.5 + 0.1 * truth.clarity, 4)
            label_ok = truth.digest % 3 != 0
        return self._result(det, truth, confidence, label_ok, "ALGORITHM", from_edge)

    def cloud_result(
        self, det: CloudDetector, truth: Truth, threshold: float, human_review: str | None = None
    ) -> dict:
        """The cloud's answer to a query: right, and confident enough (a person's, when
        needed). With human_review NEVER no person looks: the answer is the cloud's own
        model's (source ALGORITHM), right but only as confident as the image is clear."""
        if human_review == "NEVER":
            return self._result(
                det, truth, round(0.6 + 0.39 * truth.clarity, 4), True, "ALGORITHM", False
            )
        return self._result(det, truth, max(0.99, threshold), True, "CLOUD", False)

    @staticmethod
    def _result(
        det: CloudDetector, truth: Truth, confidence: float, right: bool, source: str, edge: bool
    ) -> dict:
        if det.mode == "COUNT":
            count = truth.count if right else max(0, truth.count + 1)
            over = count > det.max_count
            return {
                "confidence": confidence,
                "source": source,
                "result_type": None,
                "from_edge": edge,
                "count": min(count, det.max_count),
                "greater_than_max": over,
            }
        if det.mode == "BOUNDING_BOX":
            return _bbox_result(det, truth, confidence, right, source, edge)
        if det.mode == "MULTI_CLASS":
            names = det.class_names
            index = truth.class_index
            if index is None:  # an image that does not say: as before
                index = truth.count if truth.label == "YES" else 0
            if not right:
                index += 1
            label = names[index % len(names)]
        else:
            label = truth.label if right else ("NO" if truth.label == "YES" else "YES")
        return {
            "confidence": confidence,
            "source": source,
            "result_type": None,
            "from_edge": edge,
            "label": label,
        }

    def image_query(
        self,
        det: CloudDetector,
        result: dict | None,
        *,
        threshold: float,
        patience_time: float,
        iq_id: str | None = None,
        pending_result: dict | None = None,
        ready_at: float = 0.0,
        metadata: dict | None = None,
        image: bytes | None = None,
    ) -> dict:
        """Create (and remember) a cloud image query. A `pending_result` becomes visible at
        `ready_at`; `image` is kept for GET .../image. Raises CloudError for an `iq_id` the
        cloud already has."""
        if iq_id is None:
            iq_id = self.ids.make("iq_")
        elif iq_id in self.image_queries:
            raise CloudError(
                400, {"image_query_id": ["An image query with this id already exists."]}
            )
        created = iso(self.clock.wall())
        store = self.image_queries
        if len(store) >= MAX_IMAGE_QUERIES:
            for old in list(itertools.islice(store, MAX_IMAGE_QUERIES // 10)):
                del store[old]
        store[iq_id] = [
            det.id, created, result, pending_result, ready_at, threshold, patience_time, metadata
        ]  # fmt: skip
        self.counters["image_queries"] += 1
        if image:
            self._keep_image(iq_id, image)
        return image_query_json(
            det, iq_id, created, result, threshold, patience_time, metadata, result is not None
        )

    def _keep_image(self, iq_id: str, image: bytes) -> None:
        images = self.images
        images[iq_id] = image
        self._image_bytes += len(image)
        while len(images) > MAX_IMAGES or self._image_bytes > MAX_IMAGE_BYTES:
            oldest = next(iter(images))
            self._image_bytes -= len(images.pop(oldest))

    def image_of(self, iq_id: str) -> bytes:
        """GET /v1/image-queries/{id}/image: the image bytes (404 once forgotten)."""
        image = self.images.get(iq_id)
        if image is None:
            raise CloudError(404, {"detail": "Not found."})
        return image

    def list_image_queries(self, detector_id: str | None, page: int, page_size: int) -> dict:
        """GET /v1/image-queries: newest first, optionally of one detector; `next` and
        `previous` are filled in by the HTTP layer (they are URLs)."""
        ids = [
            iq_id
            for iq_id, record in reversed(self.image_queries.items())
            if detector_id is None or record[0] == detector_id
        ]
        start = (max(page, 1) - 1) * page_size
        results = [self.get_image_query(iq_id) for iq_id in ids[start : start + page_size]]
        return {"count": len(ids), "next": None, "previous": None, "results": results}

    def get_image_query(self, iq_id: str) -> dict:
        record = self.image_queries.get(iq_id)
        if record is None:
            raise CloudError(404, {"detail": "Not found."})
        det_id, created, result, pending, ready_at, threshold, patience, metadata = record
        if result is None and pending is not None and self.clock.now() >= ready_at:
            record[2] = result = pending
        det = self.get(det_id)
        return image_query_json(
            det, iq_id, created, result, threshold, patience, metadata, result is not None
        )

    # -- credentials and model files ---------------------------------------------------------
    @staticmethod
    def token_problem(token: str | None) -> tuple[int, dict] | None:
        """Why the cloud refuses an API token (status, body), or None: it accepts any token
        with the 20 leading [A-Za-z0-9_] characters the SDK requires."""
        if not token:
            return 401, {"detail": "Authentication credentials were not provided."}
        if not _TOKEN_RE.match(token):
            return 401, {"detail": "Invalid API token."}
        return None

    def binary_ids(self, detector_id: str, version: int | None) -> tuple[str | None, str | None]:
        """(primary, OODD) model binary ids of a model version: the KSUIDs an edge writes to
        model_id.txt. A version with no trained binary (a zero-shot pipeline) has none."""
        key = (detector_id, version)
        ids = self._binary_ids.get(key)
        if ids is None:
            det = self.detectors.get(detector_id)
            if det is None or not self.is_trained(det, version):
                ids = (None, None)
            else:
                ids = (
                    _ksuid_of(f"{detector_id}/{version}"),
                    _ksuid_of(f"{detector_id}/oodd/{version}"),
                )
            self._binary_ids[key] = ids
        return ids

    def state(self) -> dict:
        return {
            "detectors": {
                d.id: {
                    "name": d.name,
                    "mode": d.mode,
                    "labels": d.labels,
                    "model_version": d.model_version,
                    "trained_version": d.trained_version,
                    "training": d.training_due is not None,
                    "confidence_threshold": d.confidence_threshold,
                }
                for d in self.detectors.values()
            },
            "image_queries_stored": len(self.image_queries),
            **self.counters,
        }
