"""Simulator profiles: what the simulated edge box is made of and how it behaves.

A profile is a YAML file (named ones live in `configs/profiles/<name>.yaml`) loaded into frozen
dataclasses. Every field has a default (see `configs/profiles/gpu-1x.yaml`, which spells out and
documents all of them), so a profile lists only what differs. `extends: <name>` starts from
another named profile. Unknown keys, wrong types and out-of-range numbers are refused with a
one-line `ProfileError` naming the file and the field.

Durations are simulated seconds; sizes are bytes (an int, or a string such as "16GiB" / "1.5GB").
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

import yaml

from edgeload.errors import UsageError

# shipped as package data (edgeload/configs links to the top-level configs/ in a checkout)
PROFILES_DIR = Path(str(files("edgeload").joinpath("configs", "profiles")))
DEFAULT_PROFILE = "gpu-1x"


class ProfileError(UsageError):
    """A profile that cannot be used (unknown name, bad YAML, bad field): one-line message."""


def _num(minimum: float | None = 0, *, above: float | None = None, maximum: float | None = None):
    """Field metadata: numeric bounds checked by the loader."""
    return {"min": minimum, "above": above, "max": maximum}


def _f(default: Any, **bounds: Any) -> Any:
    meta = _num(**bounds) if bounds else _num()
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: typing.cast(Any, d).copy(), metadata=meta)
    return field(default=default, metadata=meta)


GIB = 1024**3
MIB = 1024**2


@dataclass(frozen=True)
class GpuSpec:
    name: str = "Tesla T4"
    vram_bytes: int = _f(16 * GIB, above=0)


@dataclass(frozen=True)
class BoxSpec:
    node_name: str = "edge-box"
    cpu_cores: int = _f(8, above=0)
    ram_bytes: int = _f(32 * GIB, above=0)
    # RAM used by the OS, k3s and everything that is neither the edge app nor a detector
    reserved_ram_bytes: int = _f(3 * GIB)
    edge_endpoint_ram_bytes: int = _f(1200 * MIB)
    # Jetson-style shared memory: a pod's VRAM also counts against RAM
    unified_memory: bool = False
    # eviction threshold reported in resources.json (kubelet memory eviction)
    eviction_threshold_pct: float = _f(90, maximum=100)
    gpus: tuple[GpuSpec, ...] = (GpuSpec(),)


@dataclass(frozen=True)
class PodFootprint:
    vram_bytes: int = _f(0)
    ram_bytes: int = _f(0)


@dataclass(frozen=True)
class ModeFootprint:
    primary: PodFootprint = PodFootprint(vram_bytes=900 * MIB, ram_bytes=1500 * MIB)
    oodd: PodFootprint = PodFootprint(vram_bytes=500 * MIB, ram_bytes=1000 * MIB)
    # added to the primary pod per unit of the detector's size n (COUNT max count, MULTI_CLASS
    # classes, BOUNDING_BOX max boxes) above base_n: a wider head and more output buffers
    per_n: PodFootprint = PodFootprint()
    # the n that `primary` already holds (per_n counts from it; below it, less memory). COUNT:
    # 10, the max count its detectors always had, so their footprint stays `primary`
    base_n: int = _f(0)


@dataclass(frozen=True)
class PipelineFootprint:
    """How an edge pipeline config changes a detector's pods: the mode's footprint x factor,
    plus extra on the primary pod (a bigger backbone, another model in the pipeline)."""

    factor: float = _f(1.0, above=0, maximum=100)
    extra: PodFootprint = PodFootprint()


@dataclass(frozen=True)
class PodsSpec:
    # per detector mode; a mode missing here (e.g. MULTI_CLASS) uses BINARY's footprint
    modes: dict[str, ModeFootprint] = field(
        default_factory=lambda: {
            "BINARY": ModeFootprint(),
            "COUNT": ModeFootprint(
                primary=PodFootprint(vram_bytes=1400 * MIB, ram_bytes=2000 * MIB),
                oodd=PodFootprint(vram_bytes=500 * MIB, ram_bytes=1000 * MIB),
                per_n=PodFootprint(vram_bytes=16 * MIB, ram_bytes=8 * MIB),
                base_n=10,
            ),
            "MULTI_CLASS": ModeFootprint(
                primary=PodFootprint(vram_bytes=1000 * MIB, ram_bytes=1600 * MIB),
                oodd=PodFootprint(vram_bytes=500 * MIB, ram_bytes=1000 * MIB),
                per_n=PodFootprint(vram_bytes=8 * MIB, ram_bytes=4 * MIB),
            ),
            "BOUNDING_BOX": ModeFootprint(
                primary=PodFootprint(vram_bytes=2000 * MIB, ram_bytes=2400 * MIB),
                oodd=PodFootprint(vram_bytes=500 * MIB, ram_bytes=1000 * MIB),
                per_n=PodFootprint(vram_bytes=16 * MIB, ram_bytes=8 * MIB),
            ),
        }
    )
    # edge pipeline config (as the detector was given it) -> its footprint change; a config
    # not listed runs at the mode's footprint
    pipelines: dict[str, PipelineFootprint] = field(default_factory=dict)
    # working memory each pod keeps per megapixel of the largest image it has served (a
    # caching GPU allocator holds its peak): grows after the first query at a larger size
    per_megapixel: PodFootprint = PodFootprint()
    minimal_image: bool = False
    startup_s: float = _f(60.0)
    inference_workers: int = _f(2, above=0)
    placement: Literal["spread", "pack"] = "spread"
    on_memory_exhausted: Literal["pending", "oom_kill"] = "pending"
    crash_backoff_s: float = _f(10.0)
    crash_backoff_max_s: float = _f(300.0)
    termination_grace_s: float = _f(2.0)

    def footprint(self, mode: str) -> ModeFootprint:
        return self.modes.get(mode.upper()) or self.modes.get("BINARY") or ModeFootprint()

    def pod_footprint(
        self,
        mode: str,
        role: str,
        *,
        n: int | None = None,
        pipeline_config: str | None = None,
        megapixels: float = 0.0,
    ) -> PodFootprint:
        """One pod's memory: the mode's footprint for its role (+ (n - base_n) x per_n on the
        primary), x the pipeline's factor (+ its extra on the primary), + the working memory of
        the largest image served. BINARY, and COUNT at its default max count (n = base_n = 10),
        with no pipeline entry: the mode's figures."""
        fp = self.footprint(mode)
        base: PodFootprint = getattr(fp, role)
        vram, ram = float(base.vram_bytes), float(base.ram_bytes)
        if role == "primary" and n:
            vram = max(0.0, vram + (n - fp.base_n) * fp.per_n.vram_bytes)
            ram = max(0.0, ram + (n - fp.base_n) * fp.per_n.ram_bytes)
        pipeline = self.pipelines.get((pipeline_config or "").strip())
        if pipeline is not None:
            vram, ram = vram * pipeline.factor, ram * pipeline.factor
            if role == "primary":
                vram += pipeline.extra.vram_bytes
                ram += pipeline.extra.ram_bytes
        vram += megapixels * self.per_megapixel.vram_bytes
        ram += megapixels * self.per_megapixel.ram_bytes
        return PodFootprint(vram_bytes=int(vram), ram_bytes=int(ram))


@dataclass(frozen=True)
class ServiceSpec:
    base_ms: float = _f(18.0)
    per_megapixel_ms: float = _f(30.0)
    gpu_sharing_factor: float = _f(0.5)
    jitter_pct: float = _f(5.0, maximum=100)
    fixed_ms: float | None = _f(None)
    edge_app_workers: int = _f(8, above=0)
    edge_app_worker_concurrency: int = _f(16, above=0)
    edge_app_overhead_ms: float = _f(1.5)
    # requests waiting for one detector's pods before the rest get 503 "overloaded"; None: no
    # limit, as in the real edge app (requests queue). A number is simulator-only behaviour.
    queue_limit: int | None = _f(None)
    # each edge-app worker caches an inference pod's readiness this long (the real app's TTL)
    readiness_cache_s: float = _f(5.0)
    # each edge-app worker refreshes its cached detector data (threshold, query) in the
    # background once it is older than this
    detector_cache_s: float = _f(60.0)


@dataclass(frozen=True)
class CloudSpec:
    labels_to_train: int = _f(30)
    training_delay_s: float = _f(20.0)
    cloud_latency_ms: float = _f(400.0)
    projected_accuracy: float = _f(0.92, maximum=1)
    # share of images a trained edge model reads wrongly (chosen per image, deterministically;
    # the cloud's own answer stays right): what makes edge and cloud answers disagree
    edge_model_error_rate: float = _f(0.0, maximum=1)


@dataclass(frozen=True)
class UpdaterSpec:
    refresh_rate_s: float = _f(60.0, above=0)
    download_s: float = _f(5.0)
    switchover_error_s: float = _f(0.0)
    rollout_timeout_s: float = _f(600.0, above=0)
    # edge pipeline configs the inference server cannot load: their pods start but never
    # become Ready, so the edge never serves a model with one of them
    unloadable_pipeline_configs: tuple[str, ...] = ()


@dataclass(frozen=True)
class LatencySpike:
    probability: float = _f(0.0, maximum=1)
    ms: float = _f(0.0)


@dataclass(frozen=True)
class Stall:
    every_s: float = _f(0.0)
    duration_s: float = _f(0.0)


@dataclass(frozen=True)
class DownWindow:
    at_s: float = _f(0.0)
    for_s: float = _f(0.0)


@dataclass(frozen=True)
class FaultsSpec:
    # HTTP status -> probability that an image query gets it
    error_rate: dict[int, float] = _f({}, maximum=1)
    latency_spike: LatencySpike = LatencySpike()
    stall: Stall = Stall()
    drop_rate: float = _f(0.0, maximum=1)
    down: tuple[DownWindow, ...] = ()


@dataclass(frozen=True)
class StatusSpec:
    # False: the status monitor runs outside a Kubernetes cluster (resources.json answers
    # {"error": ...}, metrics.json's cluster fields are errors)
    in_cluster: bool = True
    # INFERENCE_FLAVOR of the status monitor: "auto" (gpu with a GPU, else cpu), any text, or
    # None (the variable unset: metrics.json says null)
    inference_flavor: str | None = "auto"
    # metrics.json measures CPU for this long before answering (psutil, interval 1 s)
    metrics_delay_s: float = _f(1.0)


@dataclass(frozen=True)
class EndpointSpec:
    up_after_s: float = _f(0.0)


@dataclass(frozen=True)
class Profile:
    name: str = DEFAULT_PROFILE
    description: str = ""
    time_scale: float = _f(1.0, above=0)
    box: BoxSpec = BoxSpec()
    pods: PodsSpec = PodsSpec()
    service: ServiceSpec = ServiceSpec()
    cloud: CloudSpec = CloudSpec()
    updater: UpdaterSpec = UpdaterSpec()
    faults: FaultsSpec = FaultsSpec()
    status: StatusSpec = StatusSpec()
    endpoint: EndpointSpec = EndpointSpec()
    source: str = ""  # the file it was loaded from ("" for the built-in defaults)


# ---------------------------------------------------------------------------------------------
# loading

_SIZE_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([KMGT]i?B?|B)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "": 1, "B": 1,
    "K": 1000, "KB": 1000, "KI": 1024, "KIB": 1024,
    "M": 1000**2, "MB": 1000**2, "MI": 1024**2, "MIB": 1024**2,
    "G": 1000**3, "GB": 1000**3, "GI": 1024**3, "GIB": 1024**3,
    "T": 1000**4, "TB": 1000**4, "TI": 1024**4, "TIB": 1024**4,
}  # fmt: skip
_INTERNAL_FIELDS = {"name", "source"}


def list_profiles() -> list[str]:
    """Names of the profiles shipped in configs/profiles/."""
    return sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))


def _resolve(name_or_path: str | Path) -> Path:
    text = str(name_or_path)
    looks_like_path = (
        isinstance(name_or_path, Path) or "/" in text or text.endswith((".yaml", ".yml"))
    )
    if looks_like_path:
        path = Path(text).expanduser()
        if not path.is_file():
            raise ProfileError(f"profile file not found: {path}")
        return path
    path = PROFILES_DIR / f"{text}.yaml"
    if not path.is_file():
        available = ", ".join(list_profiles()) or "none"
        raise ProfileError(f"unknown simulator profile {text!r}; available: {available}")
    return path


def _read_raw(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The file's mapping, with `extends:` resolved (base first, this file merged over it)."""
    if path.resolve() in seen:
        raise ProfileError(f"{path}: extends: loops back to {path.name}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ProfileError(f"{path}: not valid YAML{where}: {problem}") from None
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read: {exc.strerror}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ProfileError(f"{path}: a profile must be a YAML mapping, got {type(raw).__name__}")
    base_name = raw.pop("extends", None)
    if base_name is None:
        return raw
    if not isinstance(base_name, str):
        raise ProfileError(f"{path}: extends: expected a profile name")
    base_path = _resolve(base_name)
    base = _read_raw(base_path, seen + (path.resolve(),))
    return _deep_merge(base, raw)


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key != "error_rate":
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _expand_dotted(overrides: dict[str, Any]) -> dict[str, Any]:
    """{"updater.refresh_rate_s": 5} -> {"updater": {"refresh_rate_s": 5}}."""
    out: dict[str, Any] = {}
    for key, value in overrides.items():
        if isinstance(value, dict):
            value = _expand_dotted(value)
        parts = str(key).split(".")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ProfileError(f"overrides: {key}: conflicts with another override")
        if isinstance(value, dict) and isinstance(node.get(parts[-1]), dict):
            node[parts[-1]] = _deep_merge(node[parts[-1]], value)
        else:
            node[parts[-1]] = value
    return out


def load_profile(
    name_or_path: str | Path = DEFAULT_PROFILE, overrides: dict | None = None
) -> Profile:
    """Load a named profile or a YAML file, apply `overrides` (nested or dotted keys)."""
    path = _resolve(name_or_path)
    raw = _read_raw(path)
    where = str(path)
    if overrides:
        raw = _deep_merge(raw, _expand_dotted(overrides))
        where = f"{path} (with overrides)"
    for key in _INTERNAL_FIELDS:
        if key in raw:
            raise ProfileError(f"{where}: {key}: unknown field")
    values = _convert(Profile, raw, "", where)
    return dataclasses.replace(values, name=path.stem, source=str(path))


def parse_bytes(value: Any) -> int:
    """An int, or a size string such as "16GiB", "1.5GB", "900MiB" -> bytes."""
    if isinstance(value, bool):
        raise ValueError("a size")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        match = _SIZE_RE.match(value)
        if match:
            unit = (match.group(2) or "").upper()
            return int(float(match.group(1)) * _SIZE_UNITS[unit])
    raise ValueError("a size in bytes (an integer or e.g. '16GiB')")


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _convert(tp: Any, value: Any, name: str, where: str, meta: dict | None = None) -> Any:
    """Check and convert one raw YAML value against the type annotation `tp`."""
    label = name or "profile"

    def fail(expected: str) -> typing.NoReturn:
        raise ProfileError(f"{where}: {label}: expected {expected}, got {_describe(value)}")

    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(inner, value, name, where, meta)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            fail("a mapping")
        internal = _INTERNAL_FIELDS if tp is Profile else set()
        known = {f.name: f for f in dataclasses.fields(tp) if f.name not in internal}
        hints = typing.get_type_hints(tp)
        kwargs = {}
        for key, sub in value.items():
            sub_name = f"{name}.{key}" if name else str(key)
            if key not in known:
                raise ProfileError(f"{where}: {sub_name}: unknown field")
            kwargs[key] = _convert(hints[key], sub, sub_name, where, dict(known[key].metadata))
        return tp(**kwargs)
    if origin is tuple:
        if not isinstance(value, list):
            fail("a list")
        return tuple(_convert(args[0], v, f"{name}[{i}]", where, meta) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            fail("a mapping")
        key_tp, val_tp = args
        out = {}
        for k, v in value.items():
            sub_name = f"{name}.{k}"
            if key_tp is int:
                try:
                    k = int(k)
                except (TypeError, ValueError):
                    raise ProfileError(f"{where}: {sub_name}: key must be an integer") from None
            else:
                k = str(k).upper() if name.endswith("modes") else str(k)
            out[k] = _convert(val_tp, v, sub_name, where, meta)
        return out
    if origin is Literal:
        if value not in args:
            fail(" or ".join(repr(a) for a in args))
        return value
    if tp is bool:
        if not isinstance(value, bool):
            fail("true or false")
        return value
    if tp is str:
        if not isinstance(value, str):
            fail("a string")
        return value
    if tp is int:
        if name.endswith("_bytes"):
            try:
                number: float = parse_bytes(value)
            except ValueError as exc:
                fail(str(exc))
        elif isinstance(value, bool) or not isinstance(value, int):
            fail("an integer")
        else:
            number = value
        return _check_bounds(number, label, where, meta)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail("a number")
        return float(_check_bounds(value, label, where, meta))
    raise TypeError(f"profile schema: unsupported type {tp!r} for {label}")  # programming error


def _check_bounds(number: float, label: str, where: str, meta: dict | None) -> float:
    meta = meta or {}
    if number != number:  # NaN
        raise ProfileError(f"{where}: {label}: expected a number, got nan")
    low, above, high = meta.get("min"), meta.get("above"), meta.get("max")
    if above is not None and not number > above:
        raise ProfileError(f"{where}: {label}: must be > {above}, got {number}")
    if low is not None and number < low:
        raise ProfileError(f"{where}: {label}: must be >= {low}, got {number}")
    if high is not None and number > high:
        raise ProfileError(f"{where}: {label}: must be <= {high}, got {number}")
    return number
