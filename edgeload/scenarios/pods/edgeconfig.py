"""Edge configs for the memory-pressure scenario: load, fill in this run's detectors, apply.

The configs in `configs/edge-config-*.yaml` are ordinary edge-config.yaml files plus one key of
ours, `edgeload_all_detectors: <inference config name>`: the detectors a run creates get their
ids only at run time, so this key asks edgeload to add one `detectors:` entry per run detector
with that inference config (detectors already listed keep theirs). The endpoint and the SDK
ignore unknown keys, so the file stays a valid edge config.

The filled config is written into the run folder (`edge-config.yaml`) so that it can be applied
with Helm (`--set-file configFile=...`) where the endpoint cannot take it at run time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from edgeload.errors import RunError, UsageError

ALL_DETECTORS_KEY = "edgeload_all_detectors"
HELM_HINT = (
    "helm upgrade -i -n default edge-endpoint edge-endpoint/groundlight-edge-endpoint "
    "--reuse-values --set-file configFile={path}"
)


def load_edge_config(path: str | Path) -> dict[str, Any]:
    """The config file as a mapping, checked as far as it can be before detectors exist.
    UsageError (one line) for anything wrong with the file."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise UsageError(f"edge config {path}: cannot read it ({exc.strerror or exc})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise UsageError(f"edge config {path}: not valid YAML{where}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise UsageError(
            f"edge config {path}: expected a mapping of keys, got {type(raw).__name__}"
        )
    name = raw.get(ALL_DETECTORS_KEY)
    if name is not None and not isinstance(name, str):
        raise UsageError(
            f"edge config {path}: {ALL_DETECTORS_KEY} must be an inference config name"
        )
    # validate now with the run detectors left out, so a bad file fails before anything starts
    validate(raw, path, detector_ids=["det_" + "0" * 27] if name else [])
    return raw


def fill_detectors(raw: dict[str, Any], detector_ids: list[str]) -> dict[str, Any]:
    """The config with one entry per run detector for `edgeload_all_detectors` (pure)."""
    out = {k: v for k, v in raw.items() if k != ALL_DETECTORS_KEY}
    name = raw.get(ALL_DETECTORS_KEY)
    listed = [dict(d) for d in (raw.get("detectors") or []) if isinstance(d, dict)]
    if name:
        have = {d.get("detector_id") for d in listed}
        listed += [
            {"detector_id": det, "edge_inference_config": name}
            for det in detector_ids
            if det not in have
        ]
    out["detectors"] = listed
    return out


def validate(raw: dict[str, Any], path: str | Path, *, detector_ids: list[str]) -> Any:
    """The SDK's EdgeEndpointConfig for the filled config; UsageError when invalid."""
    from groundlight.edge import EdgeEndpointConfig
    from pydantic import ValidationError

    try:
        return EdgeEndpointConfig.model_validate(fill_detectors(raw, detector_ids))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ())) or "top level"
        raise UsageError(f"edge config {path}: {where}: {first.get('msg')}") from None
    except (TypeError, ValueError) as exc:
        raise UsageError(f"edge config {path}: {exc}") from None


def write_filled(run_dir: Path, filled: dict[str, Any]) -> Path:
    path = run_dir / "edge-config.yaml"
    path.write_text(yaml.safe_dump(filled, sort_keys=False))
    return path


def apply_edge_config(gl: Any, config: Any, filled_path: Path) -> str:
    """PUT /edge-config through the SDK (without waiting for pods: the run measures that).
    RunError with the Helm command where the endpoint cannot take a config at run time."""
    import requests
    from groundlight.client import EdgeNotAvailableError

    helm = HELM_HINT.format(path=filled_path)
    try:
        gl.edge.apply_config(config)
    except EdgeNotAvailableError:
        raise RunError(
            "this endpoint cannot take an edge config at run time (PUT /edge-config is not "
            f"served): apply it with Helm instead: {helm}; then rerun without --edge-config"
        ) from None
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        if status in (405, 501):
            raise RunError(
                f"this endpoint cannot take an edge config at run time (PUT /edge-config "
                f"answered {status}): apply it with Helm instead: {helm}; then rerun without "
                "--edge-config"
            ) from None
        raise RunError(f"the endpoint refused the edge config (HTTP {status})") from None
    return f"edge config applied through PUT /edge-config ({len(config.detectors)} detectors)"
