"""NVML figures of a resources run: the used memory of this machine's GPUs (summed), read
through `edgeload.samplers.NvmlSampler` right before a batch is brought up and right after
its readings.

NVML sees the GPUs of the machine edgeload runs on, not the endpoint's. The difference is a
detector's VRAM only when that machine is the edge box: the target's host is this machine
(loopback or one of its addresses), and the target is not the embedded simulator (it has no
GPU: the difference would be 0, which would read as "this detector takes no VRAM"). With
`--batch-size 1` the difference is the one combination's; a larger batch's difference is the
batch's, recorded on the batch. Anything else that allocates or frees GPU memory meanwhile is
in the difference too. A figure that is not attributable is None with the reason, never 0.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from edgeload.samplers import NvmlSampler, Sampler
from edgeload.target import one_line

SOURCE = "nvml"
NOT_AVAILABLE = "not available: no NVML on this machine"
SIMULATED = "not attributable: simulated endpoint"
REMOTE = "not attributable: edgeload does not run on the edge box"
NO_READING = "not available: NVML gave no reading"
ALREADY_LOADED = "not attributable: the edge had loaded the detector before its batch"
DID_NOT_COME_UP = "not attributable: its detector did not come up"
_RESOURCES_PATH = "/status/resources.json"


def batch_reason(size: int) -> str:
    return f"not attributable: batch of {size} combinations"


# -- is the target this machine? -----------------------------------------------------------


def this_machine_addresses() -> set[str]:
    """The IP addresses of this machine's interfaces (psutil), and of its host name."""
    found: set[str] = set()
    try:
        import psutil

        for entries in psutil.net_if_addrs().values():
            for entry in entries:
                if entry.family in (socket.AF_INET, socket.AF_INET6):
                    found.add(_plain(entry.address))
    except Exception:  # noqa: BLE001 - no psutil or no permission: the host name still counts
        pass
    found.update(_resolve(socket.gethostname()))
    return found


def is_this_machine(host: str | None, addresses: set[str] | None = None) -> bool:
    """Whether `host` (a URL's host name or IP) is this machine: loopback, or an address of
    one of its interfaces. A name that does not resolve is not."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    resolved = _resolve(host)
    if any(ipaddress.ip_address(a).is_loopback for a in resolved):
        return True
    mine = this_machine_addresses() if addresses is None else {_plain(a) for a in addresses}
    return bool(resolved & mine)


def _resolve(host: str) -> set[str]:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return set()
    return {_plain(str(info[4][0])) for info in infos}


def _plain(address: str) -> str:
    """An address without its IPv6 zone (fe80::1%eth0 -> fe80::1)."""
    return address.split("%", 1)[0].lower()


def target_reason(target: Any, addresses: set[str] | None = None) -> str | None:
    """Why NVML figures of this machine are not the target's (None when they are)."""
    if getattr(target, "sim", None) is not None or getattr(target, "kind", None) == "simulated":
        return SIMULATED
    host = urlsplit(str(getattr(target, "root_url", "") or "")).hostname
    return None if is_this_machine(host, addresses) else REMOTE


# -- the readings ----------------------------------------------------------------------------


class GpuMemory:
    """The summed used memory of this machine's GPUs, or why it is not read for this run."""

    def __init__(self, sampler: Sampler | None, reason: str | None) -> None:
        self.sampler = sampler  # None when `reason` says why not
        self.reason = reason

    @classmethod
    def connect(
        cls,
        target: Any,
        factory: Callable[[], Sampler] = NvmlSampler,
        *,
        addresses: set[str] | None = None,
    ) -> GpuMemory:
        """NVML for a real endpoint on this machine; else no sampler and the reason. The
        target is checked first, so NVML is not even started where it would not count."""
        reason = target_reason(target, addresses)
        if reason is not None:
            return cls(None, reason)
        sampler = factory()
        if not sampler.is_available():
            why = getattr(sampler, "unavailable_reason", None)
            sampler.close()
            return cls(None, NOT_AVAILABLE + (f" ({one_line(why, 100)})" if why else ""))
        return cls(sampler, None)

    @property
    def attributable(self) -> bool:
        return self.sampler is not None

    def used_bytes(self) -> int | None:
        """The GPUs' used memory now (summed), or None (no NVML, or no GPU answered)."""
        if self.sampler is None:
            return None
        record = self.sampler.sample()
        used = (record or {}).get("vram_used_bytes")
        return int(used) if isinstance(used, int | float) else None

    def as_record(self) -> dict[str, Any]:
        """The header's metadata entry: whether NVML figures are recorded, and why not."""
        names = getattr(self.sampler, "gpu_names", lambda: [])() if self.sampler else []
        return {"source": SOURCE if self.attributable else None, "note": self.reason, "gpus": names}

    def close(self) -> None:
        if self.sampler is not None:
            self.sampler.close()


def loaded_detector_ids(target: Any) -> set[str] | None:
    """Detector ids the endpoint's resources.json lists now (None when it cannot say)."""
    try:
        body = target.get_json(_RESOURCES_PATH, timeout_s=10.0)
    except Exception:  # noqa: BLE001 - not known: the delta is recorded without this check
        return None
    if not isinstance(body, dict) or not isinstance(body.get("detectors"), list):
        return None
    return {str(d.get("detector_id")) for d in body["detectors"] if isinstance(d, dict)}


# -- the figures (pure) ------------------------------------------------------------------------


def figures(before: int | None, after: int | None, reason: str | None) -> dict[str, Any]:
    """{"vram_delta_bytes", "before_bytes", "after_bytes", "note"}: the difference, or None
    and the reason (`reason` when one is given, or a reading that is missing)."""
    out: dict[str, Any] = {
        "vram_delta_bytes": None,
        "before_bytes": before,
        "after_bytes": after,
        "note": reason,
    }
    if reason is None and (before is None or after is None):
        out["note"] = NO_READING
    elif reason is None:
        out["vram_delta_bytes"] = after - before  # type: ignore[operator]
    return out


def row_reason(
    run_reason: str | None, batch_size: int, detector_id: str | None, loaded_before: set | None
) -> str | None:
    """Why one combination's row gets no NVML figure of its own (None: it gets one)."""
    if run_reason is not None:
        return run_reason
    if batch_size > 1:
        return batch_reason(batch_size)
    if detector_id is None:
        return DID_NOT_COME_UP
    if loaded_before is not None and detector_id in loaded_before:
        return ALREADY_LOADED
    return None
