"""The simulated box's active edge config (`/edge-config`, `/status/edge-config`).

Like the real edge app, the config is validated with the `groundlight` SDK's edge-config models
and served back with every key of each inference config, `api_token: null` included (the real
app dumps its pydantic model). Unknown keys are dropped; a detector that is not listed has no
inference config (the edge app then behaves as `default`).
"""

from __future__ import annotations

import copy
import re
from typing import Any

_DET_RE = re.compile(r"^det_[A-Za-z0-9]{27}$")

# the fields of an inference config, in the order the real app writes them, with defaults
INFERENCE_DEFAULTS: dict[str, Any] = {
    "enabled": True,
    "api_token": None,
    "always_return_edge_prediction": False,
    "disable_cloud_escalation": False,
    "min_time_between_escalations": 2.0,
}
GLOBAL_DEFAULTS: dict[str, Any] = {"refresh_rate": 60.0, "confident_audit_rate": 1e-05}

# the box's config before anyone sets one: the presets of the edge-endpoint's edge-config.yaml
PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "edge_answers_with_escalation": {"always_return_edge_prediction": True},
    "no_cloud": {"always_return_edge_prediction": True, "disable_cloud_escalation": True},
    "disabled": {"enabled": False},
}


def inference_config(given: dict[str, Any]) -> dict[str, Any]:
    """An inference config with every field (defaults for the missing ones, unknown ones gone)."""
    merged = dict(INFERENCE_DEFAULTS)
    merged.update({k: v for k, v in given.items() if k in merged})
    return merged


class EdgeConfig:
    """The active config and per-detector lookups (`for_detector` is on the hot path)."""

    def __init__(self, refresh_rate: float) -> None:
        self.payload: dict[str, Any] = {}
        self._by_detector: dict[str, dict[str, Any]] = {}
        self.apply(
            {
                "global_config": {"refresh_rate": refresh_rate},
                "edge_inference_configs": PRESETS,
                "detectors": [],
            }
        )

    def apply(self, payload: dict[str, Any]) -> None:
        """Make a validated payload (see `problems`) the active config."""
        global_config = dict(GLOBAL_DEFAULTS)
        given = payload.get("global_config") or {}
        global_config.update({k: v for k, v in given.items() if k in global_config})
        configs = {
            name: inference_config(cfg or {})
            for name, cfg in (payload.get("edge_inference_configs") or {}).items()
        }
        detectors = [
            {"detector_id": d["detector_id"], "edge_inference_config": d["edge_inference_config"]}
            for d in payload.get("detectors") or []
        ]
        self.payload = {
            "edge_inference_configs": configs,
            "detectors": detectors,
            "global_config": global_config,
        }
        self._by_detector = {
            d["detector_id"]: configs[d["edge_inference_config"]] for d in detectors
        }

    def to_payload(self) -> dict[str, Any]:
        """The active config as GET /edge-config answers it (a copy)."""
        return copy.deepcopy(self.payload)

    def for_detector(self, detector_id: str) -> dict[str, Any] | None:
        """The detector's inference config, or None when the config does not list it."""
        return self._by_detector.get(detector_id)

    @property
    def detector_ids(self) -> list[str]:
        return [d["detector_id"] for d in self.payload["detectors"]]

    @property
    def refresh_rate(self) -> float:
        return float(self.payload["global_config"]["refresh_rate"])

    @property
    def confident_audit_rate(self) -> float:
        return float(self.payload["global_config"]["confident_audit_rate"])


def problems(payload: Any) -> list[dict[str, Any]] | None:
    """FastAPI-style 422 error items for an invalid config, or None when it is valid.

    The rules are the SDK's edge-config models' (the real app's), plus `api_token`, which the
    real app's model has and the SDK 1.3.1 model ignores: a string or null."""
    if not isinstance(payload, dict):
        return [{"type": "dict_type", "loc": ["body"], "msg": "Input should be a valid dictionary"}]
    from groundlight.edge.config import EdgeEndpointConfig
    from pydantic import ValidationError

    try:
        EdgeEndpointConfig.model_validate(payload)
    except ValidationError as exc:
        return [
            {"type": e["type"], "loc": ["body", *e["loc"]], "msg": e["msg"]}
            for e in exc.errors(include_url=False)
        ]
    except (ValueError, TypeError) as exc:
        return [{"type": "value_error", "loc": ["body"], "msg": str(exc)}]
    for name, cfg in (payload.get("edge_inference_configs") or {}).items():
        token = cfg.get("api_token") if isinstance(cfg, dict) else None
        if token is not None and not isinstance(token, str):
            loc = ["body", "edge_inference_configs", name, "api_token"]
            return [{"type": "string_type", "loc": loc, "msg": "Input should be a valid string"}]
    for d in payload.get("detectors") or []:
        if not _DET_RE.match(str(d.get("detector_id", ""))):
            loc = ["body", "detectors"]
            return [{"type": "string_pattern_mismatch", "loc": loc, "msg": "invalid detector_id"}]
    return None
