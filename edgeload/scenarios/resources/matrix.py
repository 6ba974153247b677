"""The resource benchmark's matrix: a YAML file of detector modes, each with its image sizes,
edge pipeline configs and sizes `n`, expanded into combinations (the cartesian product).

    BINARY:
      image_sizes: [640x480, 1920x1080]     required
      pipelines: [default, fast-knn]        optional; `default`: the mode's default pipeline
    MULTI_CLASS:
      image_sizes: [640x480]
      n: [3, 10]                            COUNT / MULTI_CLASS / BOUNDING_BOX only (max count /
                                            classes / max boxes)

Every mistake is a one-line UsageError naming the file and the field. Pure except `load_matrix`,
which reads the file.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeload import modes
from edgeload.errors import UsageError

DEFAULT_PIPELINE = "default"  # a matrix's word for "no --edge-pipeline-config"
MAX_COMBINATIONS = 1000  # one detector each: more is surely a typo in the matrix
MAX_PIPELINE_CHARS = 100  # the API's bound on a detector's edge_pipeline_config
MAX_SIDE = 10_000
_BLOCK_KEYS = ("image_sizes", "pipelines", "n")
_SIZE = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$")


@dataclass(frozen=True)
class Combination:
    """One detector of the benchmark: mode, edge pipeline config (None: the mode's default),
    size n (None for BINARY, and for COUNT without n: its default max count) and image size."""

    mode: str
    pipeline: str | None
    n: int | None
    width: int
    height: int

    @property
    def image_size(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def pipeline_name(self) -> str:
        return self.pipeline if self.pipeline is not None else DEFAULT_PIPELINE

    @property
    def key(self) -> str:
        """Stable identity in logs and on resume: MODE/pipeline/n/WxH."""
        n = "-" if self.n is None else str(self.n)
        return f"{self.mode}/{self.pipeline_name}/{n}/{self.image_size}"

    def as_record(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "mode": self.mode,
            "pipeline": self.pipeline_name,
            "n": self.n,
            "image_size": self.image_size,
        }


def load_matrix(path: str | Path) -> tuple[list[Combination], str]:
    """(combinations, the file's text) of a matrix file; UsageError for any problem."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--matrix {path}: cannot read it ({exc.__class__.__name__})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise UsageError(f"matrix {path}: not valid YAML{where}") from None
    return combinations(raw, str(path)), text


def combinations(raw: Any, where: str = "matrix") -> list[Combination]:
    """Every combination of a parsed matrix, mode blocks in file order; UsageError else."""
    if not isinstance(raw, dict) or not raw:
        raise UsageError(
            f"{where}: expected a mapping of detector modes ({', '.join(modes.MODES)}) to "
            "blocks with image_sizes"
        )
    found: dict[str, Combination] = {}
    seen_modes: set[str] = set()
    for name, block in raw.items():
        mode = str(name).strip().upper().replace("-", "_")
        if mode not in modes.MODES:
            raise UsageError(
                f"{where}: unknown detector mode {name!r}: use one of {', '.join(modes.MODES)}"
            )
        if mode in seen_modes:
            raise UsageError(f"{where}: detector mode {mode} is given twice")
        seen_modes.add(mode)
        for combo in _block(mode, block, f"{where}: {mode}"):
            found.setdefault(combo.key, combo)
    if not found:
        raise UsageError(f"{where}: the matrix has no combinations")
    if len(found) > MAX_COMBINATIONS:
        raise UsageError(
            f"{where}: {len(found)} combinations, more than {MAX_COMBINATIONS}: split the matrix"
        )
    return list(found.values())


def _block(mode: str, block: Any, where: str) -> list[Combination]:
    if not isinstance(block, dict):
        raise UsageError(f"{where}: expected a mapping with image_sizes (and pipelines, n)")
    unknown = [str(k) for k in block if k not in _BLOCK_KEYS]
    if unknown:
        raise UsageError(f"{where}: unknown field {unknown[0]!r}: use {', '.join(_BLOCK_KEYS)}")
    sizes = [_size(v, f"{where}.image_sizes") for v in _list(block, "image_sizes", where)]
    if not sizes:
        raise UsageError(f"{where}: image_sizes is required (one WIDTHxHEIGHT at least)")
    pipelines = [_pipeline(v, f"{where}.pipelines") for v in _list(block, "pipelines", where)]
    ns = [_n(mode, v, f"{where}.n") for v in _list(block, "n", where)]
    if "pipelines" in block and not pipelines:
        raise UsageError(f"{where}: pipelines is empty: list one at least, or leave it out")
    if "n" in block and not ns:
        raise UsageError(f"{where}: n is empty: list one at least, or leave it out")
    default_n = modes.resolve_n(mode, None)
    return [
        Combination(mode, pipeline, n, w, h)
        for pipeline, n, (w, h) in itertools.product(
            _unique(pipelines) or [None], _unique(ns) or [default_n], _unique(sizes)
        )
    ]


def _list(block: dict, key: str, where: str) -> list:
    value = block.get(key)
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, str | int) and not isinstance(value, bool):
        return [value]  # one value without brackets
    raise UsageError(f"{where}.{key}: expected a list, got {type(value).__name__}")


def _unique(values: list) -> list:
    return list(dict.fromkeys(values))


def _size(value: Any, where: str) -> tuple[int, int]:
    match = _SIZE.match(str(value))
    if not match:
        raise UsageError(f"{where}: {str(value)!r} is not WIDTHxHEIGHT, e.g. 640x480")
    width, height = int(match.group(1)), int(match.group(2))
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise UsageError(f"{where}: {str(value)!r}: sides must be 1..{MAX_SIDE} px")
    return width, height


def _pipeline(value: Any, where: str) -> str | None:
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{where}: {value!r} is not a pipeline config name")
    text = value.strip()
    if text == DEFAULT_PIPELINE:
        return None
    if len(text) > MAX_PIPELINE_CHARS or any(ord(c) < 32 for c in text):
        raise UsageError(
            f"{where}: {text[:40]!r} must be one line of at most {MAX_PIPELINE_CHARS} characters"
        )
    return text


def _n(mode: str, value: Any, where: str) -> int:
    spec = modes.SPECS[mode]
    if spec.size_flag is None:
        raise UsageError(
            f"{where}: n does not apply to {mode} detectors (only COUNT max count, "
            "MULTI_CLASS classes and BOUNDING_BOX max boxes): remove it"
        )
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{where}: {value!r} is not a whole number")
    if not spec.min_n <= value <= spec.max_n:
        raise UsageError(
            f"{where}: {value} is out of range: {mode} takes {spec.min_n}..{spec.max_n} "
            f"{spec.size_what}"
        )
    return value
