"""Simulator profiles: the named ones load with sensible figures; bad ones get one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeload.errors import UsageError
from edgeload.sim.pods import capacity_rps
from edgeload.sim.profile import ProfileError, list_profiles, load_profile

REQUIRED = {
    "jetson-orin",
    "gpu-1x",
    "gpu-2x",
    "zero-latency",
    "fixed-latency",
    "stall",
    "vram-tight",
    "switchover-errors",
    "fast-rollouts",
}


def test_named_profiles_all_load() -> None:
    names = set(list_profiles())
    assert REQUIRED <= names
    for name in names:
        profile = load_profile(name)
        assert profile.name == name
        assert profile.box.gpus, name
        assert profile.description, name


def test_profile_figures() -> None:
    gpu1 = load_profile("gpu-1x")
    assert 60 <= capacity_rps(gpu1, 640 * 480) <= 80  # the demo ramp's knee
    assert len(load_profile("gpu-2x").box.gpus) == 2
    jetson = load_profile("jetson-orin")
    assert jetson.box.unified_memory and 8 * 1024**3 <= jetson.box.ram_bytes <= 16 * 1024**3
    fixed = load_profile("fixed-latency")
    assert fixed.service.fixed_ms == 20 and fixed.service.jitter_pct == 0
    stall = load_profile("stall")
    assert stall.service.fixed_ms == 5 and stall.service.jitter_pct == 0
    assert (stall.faults.stall.every_s, stall.faults.stall.duration_s) == (5, 1)
    assert load_profile("zero-latency").service.base_ms == 0
    assert load_profile("switchover-errors").updater.switchover_error_s > 0
    assert load_profile("fast-rollouts").updater.refresh_rate_s < 60


def test_overrides_nested_and_dotted() -> None:
    p = load_profile(
        "gpu-1x",
        {"updater.refresh_rate_s": 5, "faults": {"error_rate": {"500": 0.25}}, "time_scale": 40},
    )
    assert p.updater.refresh_rate_s == 5
    assert p.faults.error_rate == {500: 0.25}
    assert p.time_scale == 40
    assert p.updater.download_s == load_profile("gpu-1x").updater.download_s  # untouched


def test_sizes_accept_units(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text("box:\n  ram_bytes: 1.5GB\n  gpus: [{name: x, vram_bytes: 2GiB}]\n")
    p = load_profile(f)
    assert p.box.ram_bytes == 1_500_000_000
    assert p.box.gpus[0].vram_bytes == 2 * 1024**3
    assert p.name == "p"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("service:\n  base_ms: -3\n", "service.base_ms: must be >= 0"),
        ("service:\n  base_ms: fast\n", "service.base_ms: expected a number"),
        ("pods:\n  inference_workers: 1.5\n", "pods.inference_workers: expected an integer"),
        ("pods:\n  inference_workers: 0\n", "pods.inference_workers: must be > 0"),
        ("pods:\n  placement: random\n", "pods.placement: expected 'spread' or 'pack'"),
        ("pods:\n  minimal_image: 1\n", "pods.minimal_image: expected true or false"),
        ("box:\n  gpus: [{name: x, vram_bytes: lots}]\n", "box.gpus[0].vram_bytes"),
        ("box:\n  gpus: {name: x}\n", "box.gpus: expected a list"),
        ("servce:\n  base_ms: 3\n", "servce: unknown field"),
        ("service:\n  bse_ms: 3\n", "service.bse_ms: unknown field"),
        ("faults:\n  error_rate: {500: 1.5}\n", "faults.error_rate.500: must be <= 1"),
        ("faults:\n  error_rate: {oops: 0.1}\n", "faults.error_rate.oops: key must be an integer"),
        ("time_scale: 0\n", "time_scale: must be > 0"),
        ("- a\n- b\n", "a profile must be a YAML mapping"),
        ("service: [1, 2\n", "not valid YAML"),
        ("extends: no-such-profile\n", "unknown simulator profile 'no-such-profile'"),
        ("name: x\n", "name: unknown field"),
    ],
)
def test_bad_profiles_get_one_line_errors(tmp_path: Path, text: str, expected: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ProfileError) as info:
        load_profile(f)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message
    assert str(f) in message or "unknown simulator profile" in message
    assert isinstance(info.value, UsageError)


def test_unknown_profile_name_lists_available() -> None:
    with pytest.raises(ProfileError) as info:
        load_profile("gpu-9x")
    assert "gpu-9x" in str(info.value) and "gpu-1x" in str(info.value)


def test_missing_file_and_extends_loop(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="not found"):
        load_profile(tmp_path / "nope.yaml")
    a = tmp_path / "a.yaml"
    b = tmp_path / "b.yaml"
    a.write_text(f"extends: {b}\n")
    b.write_text(f"extends: {a}\n")
    with pytest.raises(ProfileError, match="loops"):
        load_profile(a)


def test_bad_override_is_reported() -> None:
    with pytest.raises(ProfileError, match=r"updater\.refresh_rate_s: must be > 0"):
        load_profile("gpu-1x", {"updater.refresh_rate_s": 0})
