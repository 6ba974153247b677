"""Run metadata for the log header and result files: small `collect_*` functions, each
returning plain JSON-able data and never failing a run (unknown parts are None).

`collect_metadata(target)` gathers them all:
    {"collected_at", "target": {"kind", "url", ...}, "endpoint_images": {"edge_endpoint",
     "inference_server"}, "versions": {"edgeload", "locust", "groundlight", "python"},
     "generator_host": {"hostname", "platform", "cpu_model", "cpu_count", "ram_total_bytes",
     "gpus"}, "git_commit"}
No secrets: the target contributes its kind and credential-free URL only.
"""

from __future__ import annotations

import platform
import socket
import subprocess
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from edgeload.runlog import utc_now_iso

_PACKAGES = ("edgeload", "locust", "groundlight")
_CHECKOUT = Path(__file__).resolve().parent.parent


def collect_target(target: Any) -> dict:
    """Kind and URL of the measured endpoint (no token)."""
    return target.as_record()


def collect_endpoint_images(target: Any) -> dict:
    """Edge-endpoint and inference-server images from the endpoint's /status/metrics.json."""
    from edgeload.provisioning import fetch_endpoint_images

    try:
        return fetch_endpoint_images(target)
    except Exception:  # metadata is best effort; the run itself reports a dead endpoint
        return {"edge_endpoint": None, "inference_server": None}


def collect_versions() -> dict:
    """Versions of edgeload, locust, groundlight and Python."""
    versions: dict[str, str | None] = {}
    for package in _PACKAGES:
        try:
            versions[package] = importlib_metadata.version(package)
        except importlib_metadata.PackageNotFoundError:
            versions[package] = None
    versions["python"] = platform.python_version()
    return versions


def collect_cpu_model() -> str | None:
    """The CPU model name (Linux /proc/cpuinfo; platform.processor() elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def collect_gpu_names() -> list[str]:
    """Names of this machine's GPUs via NVML (empty without a GPU or driver)."""
    from edgeload.samplers import NvmlSampler

    sampler = NvmlSampler()
    try:
        return sampler.gpu_names()
    finally:
        sampler.close()


def collect_generator_host() -> dict:
    """The load-generator machine: hostname, platform, CPU, RAM and GPUs."""
    import psutil

    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "cpu_model": collect_cpu_model(),
        "cpu_count": psutil.cpu_count(logical=True),
        "ram_total_bytes": int(psutil.virtual_memory().total),
        "gpus": collect_gpu_names(),
    }


def collect_git_commit(checkout: Path = _CHECKOUT) -> str | None:
    """The commit of the edgeload checkout (with "-dirty" if it has changes), or None when
    edgeload is not run from a git checkout."""
    if not (checkout / ".git").exists():
        return None
    try:
        commit = subprocess.run(
            ["git", "-C", str(checkout), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(checkout), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    if not commit:
        return None
    return commit + ("-dirty" if status else "")


def collect_metadata(target: Any = None) -> dict:
    """Everything above in one dict; `target` None leaves out the endpoint parts."""
    result: dict[str, Any] = {"collected_at": utc_now_iso()}
    if target is not None:
        result["target"] = collect_target(target)
        result["endpoint_images"] = collect_endpoint_images(target)
    result["versions"] = collect_versions()
    result["generator_host"] = collect_generator_host()
    result["git_commit"] = collect_git_commit()
    return result
