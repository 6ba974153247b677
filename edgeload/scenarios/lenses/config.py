"""The lens sweep's YAML config: lenses, each a chain of detector calls per frame, and the runs
a sweep expands to. Pure: `parse_config(data)` checks a loaded document, `load_config(path)`
reads one; every mistake is a one-line UsageError naming the lens and the key to fix.

    global:                     defaults of every lens, and the run-wide times
      image_size: [640, 480]    (or "640x480") the frame's image
      target_fps: 5             frames per second per camera; 0 = unpaced (next frame at once)
      duration_seconds: 60      measured window of each run
      warmup_seconds: 10        each run's load before its window opens (not measured)
    lenses:
      - name: door_lens         letters, digits, _ (names its detectors)
        type: single_binary     single_binary | single_bbox | bbox_to_binary
        cameras: [1, 2, 4]      cameras (parallel clients) per detector copy; int or list
        copies: 1               distinct detectors with the same pipeline; int or list
        objects: 2              single_bbox / bbox_to_binary: objects in each frame's image, and
                                the binary calls per frame of bbox_to_binary; int or list
        image_size, target_fps  override the global ones for this lens
        binary_image_size       bbox_to_binary: the crop sent to the binary stage (224x224)
        pipeline                single_*: the detector's edge pipeline config (a name)
        bbox_pipeline, binary_pipeline            bbox_to_binary: each stage's
        bbox_detector_id, binary_detector_id      an existing detector for that stage
                                                  (copies must stay 1)

The sweep (the upstream app_benchmark's rule): every list among `cameras`, `copies` and
`objects` of every lens is zipped element-wise into runs, so all lists must have the same
length, the number of runs; a scalar stays the same in every run. Without a list: one run.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeload import modes
from edgeload.errors import UsageError

SINGLE_BINARY, SINGLE_BBOX, BBOX_TO_BINARY = "single_binary", "single_bbox", "bbox_to_binary"
BBOX, BINARY = "bbox", "binary"  # stage names
# lens type -> its stages in call order: (stage, detector mode)
STAGES: dict[str, tuple[tuple[str, str], ...]] = {
    SINGLE_BINARY: ((BINARY, "BINARY"),),
    SINGLE_BBOX: ((BBOX, "BOUNDING_BOX"),),
    BBOX_TO_BINARY: ((BBOX, "BOUNDING_BOX"), (BINARY, "BINARY")),
}
SWEPT = ("cameras", "copies", "objects")
BOUNDS = {"cameras": (1, 64), "copies": (1, 32), "objects": (1, modes.SPECS["BOUNDING_BOX"].max_n)}
DEFAULTS = {
    "image_size": (640, 480),
    "target_fps": 5.0,
    "duration_seconds": 60.0,
    "warmup_seconds": 10.0,
}
DOWNSTREAM_SIZE = (224, 224)  # upstream's crop size for the binary stage of bbox_to_binary
MAX_SIDE = 10_000
MAX_FPS = 1000.0
MAX_SECONDS = 7 * 86400.0
_NAME = re.compile(r"^[A-Za-z0-9_]{1,40}$")
_SIZE = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")
_DETECTOR_ID = re.compile(r"^det_[A-Za-z0-9]{27}$")
_COMMON_KEYS = {"name", "type", "cameras", "copies", "image_size", "target_fps"}
_KEYS = {
    SINGLE_BINARY: _COMMON_KEYS | {"pipeline", "binary_detector_id"},
    SINGLE_BBOX: _COMMON_KEYS | {"objects", "pipeline", "bbox_detector_id"},
    BBOX_TO_BINARY: _COMMON_KEYS
    | {
        "objects",
        "binary_image_size",
        "bbox_pipeline",
        "binary_pipeline",
        "bbox_detector_id",
        "binary_detector_id",
    },
}


@dataclass(frozen=True)
class Lens:
    """One lens: its chain, its per-run sweep values (tuples of the run count) and overrides."""

    name: str
    type: str
    cameras: tuple[int, ...]
    copies: tuple[int, ...]
    objects: tuple[int, ...]  # (1, ...) for single_binary: no objects
    image_size: tuple[int, int]
    target_fps: float
    binary_image_size: tuple[int, int]
    pipelines: dict[str, str | None] = field(default_factory=dict)  # stage -> edge pipeline
    detector_ids: dict[str, str | None] = field(default_factory=dict)  # stage -> given id
    swept: tuple[str, ...] = ()  # which of SWEPT were lists in the config

    @property
    def stages(self) -> tuple[tuple[str, str], ...]:
        return STAGES[self.type]

    @property
    def has_objects(self) -> bool:
        return self.type != SINGLE_BINARY

    def users(self, run: int) -> int:
        """Cameras of every copy in run `run`: the lens's Locust users."""
        return self.cameras[run] * self.copies[run]

    def stage_image_size(self, stage: str) -> tuple[int, int]:
        if self.type == BBOX_TO_BINARY and stage == BINARY:
            return self.binary_image_size
        return self.image_size

    def in_run(self, run: int) -> dict[str, Any]:
        """This lens's parameters in run `run` (the step record's and the report's)."""
        return {
            "type": self.type,
            "cameras": self.cameras[run],
            "copies": self.copies[run],
            "objects": self.objects[run] if self.has_objects else None,
            "users": self.users(run),
            "target_fps": self.target_fps,
            "image_size": _size_text(self.image_size),
        }

    def as_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "stages": [s for s, _ in self.stages],
            "cameras": list(self.cameras),
            "copies": list(self.copies),
            "objects": list(self.objects) if self.has_objects else None,
            "image_size": _size_text(self.image_size),
            "target_fps": self.target_fps,
            "swept": list(self.swept),
            "pipelines": dict(self.pipelines),
            "detector_ids": dict(self.detector_ids),
        }
        if self.type == BBOX_TO_BINARY:
            record["binary_image_size"] = _size_text(self.binary_image_size)
        return record


@dataclass(frozen=True)
class SweepConfig:
    """The whole config: lenses, the number of runs, and each run's times."""

    path: str
    lenses: tuple[Lens, ...]
    runs: int
    duration_s: float
    warmup_s: float

    def run_params(self, run: int) -> dict[str, dict[str, Any]]:
        return {lens.name: lens.in_run(run) for lens in self.lenses}

    def run_label(self, run: int) -> str:
        """`run 1 (door_lens cameras=2, person_lens objects=4)`: the swept values only."""
        parts = [
            f"{lens.name} {key}={getattr(lens, key)[run]}"
            for lens in self.lenses
            for key in lens.swept
        ]
        return f"run {run}" + (f" ({', '.join(parts)})" if parts else "")


def load_config(path: str | Path) -> dict:
    """The YAML document of a lens config; UsageError when it cannot be read or parsed."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"lens config {str(path)!r} cannot be read ({type(exc).__name__})"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise UsageError(f"lens config {path}:{where} is not valid YAML") from None
    if not isinstance(data, dict):
        raise UsageError(f"lens config {path}: write a mapping with `global:` and `lenses:`")
    return data


def parse_config(
    data: dict,
    path: str = "<config>",
    *,
    duration_s: float | None = None,
    warmup_s: float | None = None,
) -> SweepConfig:
    """The checked config (UsageError, one line, for the first mistake). `duration_s` and
    `warmup_s` (the command's options) override `global.duration_seconds/warmup_seconds`."""
    where = f"lens config {path}"
    unknown = sorted(set(data) - {"global", "lenses"})
    if unknown:
        raise UsageError(
            f"{where}: unknown key {unknown[0]!r} (edgeload takes the endpoint from "
            "GROUNDLIGHT_ENDPOINT and the output folder from --output-dir): keep only global "
            "and lenses"
        )
    glob = data.get("global") or {}
    if not isinstance(glob, dict):
        raise UsageError(f"{where}: `global:` must be a mapping")
    bad = sorted(set(glob) - set(DEFAULTS))
    if bad:
        raise UsageError(f"{where}: global: unknown key {bad[0]!r}: use {', '.join(DEFAULTS)}")
    image_size = _image_size(glob.get("image_size", DEFAULTS["image_size"]), f"{where}: global")
    target_fps = _fps(glob.get("target_fps", DEFAULTS["target_fps"]), f"{where}: global")
    duration = _seconds(
        glob.get("duration_seconds", DEFAULTS["duration_seconds"]),
        f"{where}: global: duration_seconds",
        above=0.0,
    )
    warmup = _seconds(
        glob.get("warmup_seconds", DEFAULTS["warmup_seconds"]),
        f"{where}: global: warmup_seconds",
        above=None,
    )
    raw_lenses = data.get("lenses")
    if not isinstance(raw_lenses, list) or not raw_lenses:
        raise UsageError(f"{where}: `lenses:` must be a non-empty list of lenses")
    drafts = [_lens(raw, i, where, image_size, target_fps) for i, raw in enumerate(raw_lenses)]
    names = [d["name"] for d in drafts]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UsageError(f"{where}: lens name {twice[0]!r} is used twice: names must differ")
    runs = _run_count(drafts, where)
    lenses = tuple(_expanded(d, runs) for d in drafts)
    return SweepConfig(
        path=str(path),
        lenses=lenses,
        runs=runs,
        duration_s=duration if duration_s is None else duration_s,
        warmup_s=warmup if warmup_s is None else warmup_s,
    )


def _lens(raw: Any, index: int, where: str, image_size, target_fps) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise UsageError(f"{where}: lenses[{index}] must be a mapping with name and type")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise UsageError(
            f"{where}: lenses[{index}]: name must be 1-40 letters, digits or _, got {name!r}"
        )
    here = f"{where}: lens {name}"
    kind = raw.get("type")
    if kind not in STAGES:
        raise UsageError(
            f"{here}: unknown type {kind!r}: use {SINGLE_BINARY}, {SINGLE_BBOX} or {BBOX_TO_BINARY}"
        )
    unknown = sorted(set(raw) - _KEYS[kind])
    if unknown:
        raise UsageError(f"{here}: {unknown[0]!r} is not a key of a {kind} lens")
    draft: dict[str, Any] = {"name": name, "type": kind}
    for key in SWEPT:
        if key == "objects" and kind == SINGLE_BINARY:
            continue
        draft[key] = _sweep_value(raw.get(key, 1), key, here)
    draft["image_size"] = _image_size(raw.get("image_size", image_size), here)
    draft["target_fps"] = _fps(raw.get("target_fps", target_fps), here)
    draft["binary_image_size"] = _image_size(
        raw.get("binary_image_size", DOWNSTREAM_SIZE), here, key="binary_image_size"
    )
    draft["pipelines"], draft["detector_ids"] = _stage_settings(raw, kind, here)
    copies = draft["copies"]
    if any(draft["detector_ids"].values()) and max(_as_list(copies)) > 1:
        raise UsageError(
            f"{here}: a *_detector_id names one detector, so copies must stay 1 (drop the id "
            "or the copies)"
        )
    return draft


def _stage_settings(raw: dict, kind: str, here: str) -> tuple[dict, dict]:
    pipelines: dict[str, str | None] = {}
    ids: dict[str, str | None] = {}
    for stage, _mode in STAGES[kind]:
        pipeline_key = "pipeline" if kind != BBOX_TO_BINARY else f"{stage}_pipeline"
        pipeline = raw.get(pipeline_key)
        if pipeline is not None and (
            not isinstance(pipeline, str)
            or not 0 < len(pipeline) <= 100
            or any(ord(c) < 32 for c in pipeline)
        ):
            raise UsageError(f"{here}: {pipeline_key} must be one line of 1-100 characters")
        pipelines[stage] = pipeline
        detector_id = raw.get(f"{stage}_detector_id")
        if detector_id is not None and not (
            isinstance(detector_id, str) and _DETECTOR_ID.match(detector_id)
        ):
            raise UsageError(
                f"{here}: {stage}_detector_id {detector_id!r} is not a detector id "
                "(det_ and 27 letters/digits)"
            )
        ids[stage] = detector_id
    return pipelines, ids


def _sweep_value(value: Any, key: str, here: str) -> int | list[int]:
    low, high = BOUNDS[key]
    values = value if isinstance(value, list) else [value]
    if isinstance(value, list) and not value:
        raise UsageError(f"{here}: {key} is an empty list: give a number or a non-empty list")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
            raise UsageError(
                f"{here}: {key} must be a whole number {low}..{high} or a list of them, "
                f"got {_shown(value)}"
            )
    return list(values) if isinstance(value, list) else int(value)


def _run_count(drafts: list[dict], where: str) -> int:
    lists = [
        (d["name"], key, len(d[key]))
        for d in drafts
        for key in SWEPT
        if isinstance(d.get(key), list)
    ]
    lengths = {n for _, _, n in lists}
    if len(lengths) > 1:
        shown = ", ".join(f"{name}.{key} has {n}" for name, key, n in lists)
        raise UsageError(
            f"{where}: the sweep lists are zipped into runs, so they must have the same "
            f"length: {shown}"
        )
    return lengths.pop() if lengths else 1


def _expanded(draft: dict, runs: int) -> Lens:
    def per_run(key: str) -> tuple[int, ...]:
        value = draft.get(key, 1)
        return tuple(value) if isinstance(value, list) else (int(value),) * runs

    return Lens(
        name=draft["name"],
        type=draft["type"],
        cameras=per_run("cameras"),
        copies=per_run("copies"),
        objects=per_run("objects"),
        image_size=draft["image_size"],
        target_fps=draft["target_fps"],
        binary_image_size=draft["binary_image_size"],
        pipelines=draft["pipelines"],
        detector_ids=draft["detector_ids"],
        swept=tuple(k for k in SWEPT if isinstance(draft.get(k), list)),
    )


def _image_size(value: Any, here: str, *, key: str = "image_size") -> tuple[int, int]:
    size = None
    if isinstance(value, list | tuple) and len(value) == 2:
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            size = (int(value[0]), int(value[1]))
    elif isinstance(value, str) and (match := _SIZE.match(value)):
        size = (int(match.group(1)), int(match.group(2)))
    if size is None or not all(1 <= s <= MAX_SIDE for s in size):
        raise UsageError(
            f"{here}: {key} must be [WIDTH, HEIGHT] (or 'WIDTHxHEIGHT') with sides "
            f"1..{MAX_SIDE}, got {_shown(value)}"
        )
    return size


def _fps(value: Any, here: str) -> float:
    number = _number(value)
    if number is None or not 0 <= number <= MAX_FPS:
        raise UsageError(
            f"{here}: target_fps must be a number 0..{MAX_FPS:g} (0 = unpaced), got {_shown(value)}"
        )
    return number


def _seconds(value: Any, here: str, *, above: float | None) -> float:
    number = _number(value)
    ok = number is not None and number <= MAX_SECONDS
    ok = ok and (number > above if above is not None else number >= 0)
    if not ok:
        wanted = f"above {above:g}" if above is not None else "at least 0"
        raise UsageError(f"{here} must be a number of seconds {wanted}, got {_shown(value)}")
    return float(number)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _as_list(value: int | list[int]) -> list[int]:
    return value if isinstance(value, list) else [value]


def _size_text(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
