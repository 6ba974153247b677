"""Detector modes: the one definition every other module imports.

    MODES                  the modes a run can load, in the order `--help` lists them
    SPECS[mode]            what edgeload needs to know about a mode (see ModeSpec)
    check_mode(text)       the mode's canonical name; UsageError (one line) for an unknown one
    resolve_n(mode, n)     a mode's size `n` (max count / classes / max boxes), checked;
                           UsageError else
    size_or_default(m, n)  `n`, or the mode's default size (COUNT: 10; None for BINARY)
    named_size(mode, n)    the size that names and records a detector (None: no size shown)
    class_names(n)         the class names of edgeload's MULTI_CLASS detectors ("0", "1", ...)

Each mode's detectors are created through the SDK as the real API takes them: BINARY with
`create_detector`, COUNT with `create_counting_detector` (class "circle", `max_count` n),
MULTI_CLASS with `create_multiclass_detector` (class names "0".."n-1", drawn as the digits of
the synthetic images) and BOUNDING_BOX with `create_bounding_box_detector` (class "circle",
`max_num_bboxes` n). Answers: BINARY `label` YES/NO; COUNT `count` (and `greater_than_max`);
MULTI_CLASS `label` one of the class names; BOUNDING_BOX `label` BOUNDING_BOX, NO_OBJECTS,
GREATER_THAN_MAX or UNCLEAR with one ROI per object in the image query's `rois`.

Imports nothing of edgeload's but `errors`, so options, images, provisioning and clients can
all use it.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgeload.errors import UsageError

MODES = ("BINARY", "COUNT", "MULTI_CLASS", "BOUNDING_BOX")

OBJECT_CLASS_NAME = "circle"  # what COUNT and BOUNDING_BOX detectors look for
COUNT_MAX = 10  # COUNT's default max count (its fixed one before --max-count)
BINARY_QUERY = "Is the image background black?"
COUNT_QUERY = f"How many {OBJECT_CLASS_NAME}s are in the image?"
MULTI_CLASS_QUERY = "Which number is written in the image?"
BOUNDING_BOX_QUERY = f"Draw a box around each {OBJECT_CLASS_NAME} in the image"

# bounding-box answer labels (result.label); the objects themselves are in `rois`
BBOX_LABELS = ("BOUNDING_BOX", "NO_OBJECTS", "GREATER_THAN_MAX", "UNCLEAR")
BBOX_FOUND, BBOX_NONE = "BOUNDING_BOX", "NO_OBJECTS"


@dataclass(frozen=True)
class ModeSpec:
    """What edgeload knows about a detector mode.

    result_type: the image query's `result_type` for the mode.
    size_flag: the option that sets the mode's size `n` (classes, max boxes), or None.
    default_n / min_n / max_n: that size's default and bounds.
    default_named: whether the default size is part of a detector's name and records. False
        for COUNT, whose max count was a fixed 10 before it could be set: a default COUNT
        detector keeps its name (`edgeload-count-640x480`, no `-n10`) and records.
    """

    name: str
    result_type: str
    query: str
    size_flag: str | None = None
    size_what: str = ""
    default_n: int | None = None
    min_n: int = 1
    max_n: int = 1
    default_named: bool = True


SPECS = {
    "BINARY": ModeSpec("BINARY", "binary_classification", BINARY_QUERY),
    "COUNT": ModeSpec(
        "COUNT",
        "counting",
        COUNT_QUERY,
        size_flag="--max-count",
        size_what="counted objects at most",
        default_n=COUNT_MAX,
        min_n=1,
        max_n=50,  # the API's bound (CountModeConfiguration.max_count)
        default_named=False,
    ),
    "MULTI_CLASS": ModeSpec(
        "MULTI_CLASS",
        "multi_classification",
        MULTI_CLASS_QUERY,
        size_flag="--num-classes",
        size_what="classes",
        default_n=4,
        min_n=2,
        max_n=100,
    ),
    "BOUNDING_BOX": ModeSpec(
        "BOUNDING_BOX",
        "bounding_box",
        BOUNDING_BOX_QUERY,
        size_flag="--max-num-bboxes",
        size_what="boxes at most",
        default_n=10,
        min_n=1,
        max_n=50,  # the API's bound (BoundingBoxModeConfiguration.max_num_bboxes)
    ),
}
SIZE_FLAGS = {spec.size_flag: spec.name for spec in SPECS.values() if spec.size_flag}


def check_mode(mode: str) -> str:
    """The canonical mode name (any case); UsageError for an unknown one."""
    value = str(mode).strip().upper().replace("-", "_")
    if value not in MODES:
        raise UsageError(f"unknown detector mode {mode!r}: use one of {', '.join(MODES)}")
    return value


def resolve_n(mode: str, n: int | None, *, flag: str | None = None) -> int | None:
    """The size of a mode's detectors: `n` checked, or the mode's default (None for BINARY,
    whose size is fixed, and for COUNT, whose default max count names no detector: see
    ModeSpec.default_named). UsageError when `n` is given to a mode without a size or given
    through another mode's flag, or is out of bounds."""
    spec = SPECS[check_mode(mode)]
    if n is None:
        return spec.default_n if spec.size_flag and spec.default_named else None
    if spec.size_flag is None or (flag is not None and flag != spec.size_flag):
        shown = flag or "a size"
        owner = SIZE_FLAGS.get(flag or "", "")
        hint = f"it applies to {owner} detectors" if owner else "this mode has a fixed size"
        raise UsageError(f"{shown} does not apply to {spec.name} detectors: {hint}")
    if not spec.min_n <= n <= spec.max_n:
        raise UsageError(
            f"{spec.size_flag} must be {spec.min_n}..{spec.max_n} for {spec.name} "
            f"detectors, got {n}"
        )
    return n


def size_or_default(mode: str, n: int | None) -> int | None:
    """`n`, or the mode's default size when None (COUNT: 10; None for BINARY)."""
    return n if n is not None else SPECS[check_mode(mode)].default_n


def named_size(mode: str, n: int | None) -> int | None:
    """The size that names and records a detector of `mode` with size `n`: `n`, but None for
    COUNT at its default max count (its detectors always had that one, and keep their names)."""
    spec = SPECS[check_mode(mode)]
    if n is None or (not spec.default_named and n == spec.default_n):
        return None
    return n


def class_names(n: int) -> list[str]:
    """The class names of edgeload's MULTI_CLASS detectors with `n` classes."""
    return [str(i) for i in range(n)]
