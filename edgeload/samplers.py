"""Resource samplers: CPU, RAM, GPU and VRAM of the load generator and of the edge endpoint.

One base class, `Sampler`, owns the contract: `sample()` takes one sample and returns the body of
a `utilization` record (edgeload.runlog: every field but "type" and "t"), or None when there is
nothing to report. Samplers never raise from `sample()` for an environment problem (no GPU, no
driver, endpoint down): they return None and say so once through `note`.

    HostSampler      psutil: CPU % and RAM of this machine            source "generator"
    NvmlSampler      NVML: utilization and VRAM per GPU of this machine  source "generator"
    CombinedSampler  several samplers of one host merged into one record
    EndpointSampler  GET {endpoint}/status/resources.json              source "endpoint"

`generator_sampler()` is the usual CombinedSampler(HostSampler, NvmlSampler), so one generator
record carries CPU/RAM and GPU/VRAM. `SamplingLoop` calls samplers every `interval_s` and hands
complete records to `emit`; it runs on a `threading.Thread`, which is a greenlet in a
gevent-patched (Locust) process and a real thread elsewhere, so the same code serves both.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from edgeload import runlog
from edgeload.http import HttpClient, HttpError, HttpStatusError

logger = logging.getLogger(__name__)

SOURCE_GENERATOR = "generator"
SOURCE_ENDPOINT = "endpoint"

# Fields of a utilization record that are numbers (None when unknown).
VALUE_FIELDS = (
    "cpu_pct",
    "ram_pct",
    "gpu_pct",
    "vram_pct",
    "ram_used_bytes",
    "vram_used_bytes",
    "vram_total_bytes",
)

Note = Callable[[str], None]


def empty_record(source: str, host: str) -> dict:
    """A utilization record body with every value unknown."""
    record: dict[str, Any] = {"source": source, "host": host}
    record.update(dict.fromkeys(VALUE_FIELDS))
    record["gpus"] = []
    return record


def _pct(used: float | None, total: float | None) -> float | None:
    if used is None or not total:
        return None
    return round(100.0 * used / total, 2)


class Sampler:
    """Takes one resource sample at a time. Subclasses implement `_sample()` only."""

    source: str = SOURCE_GENERATOR

    def __init__(self, *, host: str | None = None, note: Note | None = None):
        self.host = host or socket.gethostname()
        self._note = note or logger.warning
        self._noted: set[str] = set()

    def is_available(self) -> bool:
        """Whether this sampler can produce figures here (e.g. False without a GPU)."""
        return True

    def sample(self) -> dict | None:
        """One utilization record body (no "type"/"t"), or None. Never raises."""
        try:
            return self._sample()
        except Exception as exc:  # a sampler must never end a run
            self.note_once(f"error:{type(exc).__name__}", f"{self.name} failed: {exc}")
            return None

    def _sample(self) -> dict | None:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the sampler holds (idempotent)."""

    @property
    def name(self) -> str:
        return type(self).__name__

    def note_once(self, key: str, message: str) -> None:
        """Say something about this sampler once per kind of problem, not every sample."""
        if key not in self._noted:
            self._noted.add(key)
            self._note(message)


class HostSampler(Sampler):
    """CPU % and RAM of the machine running the load generator (psutil)."""

    source = SOURCE_GENERATOR

    def __init__(self, *, host: str | None = None, note: Note | None = None):
        super().__init__(host=host, note=note)
        import psutil

        self._psutil = psutil
        self._process = psutil.Process()
        psutil.cpu_percent(interval=None)  # the first call only starts the measurement
        self._process.cpu_percent(interval=None)

    def _sample(self) -> dict:
        record = empty_record(self.source, self.host)
        memory = self._psutil.virtual_memory()
        record["cpu_pct"] = float(self._psutil.cpu_percent(interval=None))
        # This load process's own CPU (100 = one core, the most a gevent process can use):
        # what says whether the generator kept up; the host's CPU also counts whatever else
        # runs there (a simulator, other tests), as Locust's own "CPU usage above 90%" does.
        record["process_cpu_pct"] = float(self._process.cpu_percent(interval=None))
        record["pid"] = self._process.pid
        record["ram_pct"] = float(memory.percent)
        record["ram_used_bytes"] = int(memory.total - memory.available)
        return record


class NvmlSampler(Sampler):
    """Utilization and VRAM of every GPU of this machine through NVML (nvidia-ml-py).

    Without the library, a driver or a GPU, `is_available()` is False and `sample()` returns
    None; nothing crashes.
    """

    source = SOURCE_GENERATOR

    def __init__(self, *, host: str | None = None, note: Note | None = None):
        super().__init__(host=host, note=note)
        self._nvml: Any = None
        self._handles: list[Any] = []
        self._names: list[str] = []
        self._started = False
        self._unavailable_reason: str | None = None

    def _start(self) -> None:
        if self._started:
            return
        self._started = True
        try:
            import pynvml
        except ImportError:
            self._unavailable_reason = "nvidia-ml-py is not installed"
            return
        try:
            pynvml.nvmlInit()
            count = pynvml.nvmlDeviceGetCount()
            handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
            names = [_text(pynvml.nvmlDeviceGetName(h)) for h in handles]
        except Exception as exc:  # pynvml.NVMLError and OSError when the driver is missing
            self._unavailable_reason = f"NVML is not usable ({exc})"
            return
        if not handles:
            self._unavailable_reason = "no GPU found"
            pynvml.nvmlShutdown()
            return
        self._nvml, self._handles, self._names = pynvml, handles, names

    def is_available(self) -> bool:
        self._start()
        return self._nvml is not None

    @property
    def unavailable_reason(self) -> str | None:
        """Why NVML gives no figures here (None while it is usable)."""
        self._start()
        return None if self._nvml is not None else self._unavailable_reason

    def gpu_names(self) -> list[str]:
        """Names of this machine's GPUs (empty without NVML)."""
        self._start()
        return list(self._names)

    def _sample(self) -> dict | None:
        if not self.is_available():
            return None
        nvml = self._nvml
        gpus = []
        for index, (handle, name) in enumerate(zip(self._handles, self._names, strict=True)):
            try:
                rates = nvml.nvmlDeviceGetUtilizationRates(handle)
                memory = nvml.nvmlDeviceGetMemoryInfo(handle)
            except Exception as exc:  # a GPU that fell off the bus: report the others
                self.note_once(f"gpu{index}", f"GPU {index} ({name}) cannot be read: {exc}")
                continue
            gpus.append(
                {
                    "index": index,
                    "name": name,
                    "gpu_pct": float(rates.gpu),
                    "vram_used_bytes": int(memory.used),
                    "vram_total_bytes": int(memory.total),
                }
            )
        if not gpus:
            return None
        record = empty_record(self.source, self.host)
        used = sum(g["vram_used_bytes"] for g in gpus)
        total = sum(g["vram_total_bytes"] for g in gpus)
        record["gpu_pct"] = round(sum(g["gpu_pct"] for g in gpus) / len(gpus), 2)
        record["vram_used_bytes"] = used
        record["vram_total_bytes"] = total
        record["vram_pct"] = _pct(used, total)
        record["gpus"] = gpus
        return record

    def close(self) -> None:
        if self._nvml is not None:
            try:
                self._nvml.nvmlShutdown()
            except Exception:  # shutting down is best effort
                pass
            self._nvml = None


def _text(value: str | bytes) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def merge_records(records: Iterable[dict | None]) -> dict | None:
    """Merge record bodies of one source and host: known values fill unknown ones; GPU lists
    are concatenated. None when no record had anything."""
    merged: dict | None = None
    for record in records:
        if record is None:
            continue
        if merged is None:
            merged = {**record, "gpus": list(record.get("gpus") or [])}
            continue
        for key in VALUE_FIELDS:
            if merged.get(key) is None and record.get(key) is not None:
                merged[key] = record[key]
        merged["gpus"].extend(record.get("gpus") or [])
    return merged


class CombinedSampler(Sampler):
    """Several samplers of the same host, merged into one record (e.g. psutil + NVML)."""

    def __init__(self, samplers: Sequence[Sampler], *, note: Note | None = None):
        if not samplers:
            raise ValueError("CombinedSampler needs at least one sampler")
        super().__init__(host=samplers[0].host, note=note)
        self.samplers = list(samplers)
        self.source = samplers[0].source

    def is_available(self) -> bool:
        return any(s.is_available() for s in self.samplers)

    def _sample(self) -> dict | None:
        return merge_records(s.sample() for s in self.samplers)

    def close(self) -> None:
        for sampler in self.samplers:
            sampler.close()


def generator_sampler(*, host: str | None = None, note: Note | None = None) -> CombinedSampler:
    """The load generator's own CPU/RAM (psutil) and GPU/VRAM (NVML, where a GPU exists)."""
    return CombinedSampler(
        [HostSampler(host=host, note=note), NvmlSampler(host=host, note=note)], note=note
    )


class EndpointSampler(Sampler):
    """The edge endpoint's CPU, RAM, GPU and VRAM from its `/status/resources.json`.

    Outside a Kubernetes cluster the endpoint answers 200 `{"error": ...}`; an endpoint may also
    be down for a while. Both give None, with a note the first time.
    """

    source = SOURCE_ENDPOINT
    PATH = "/status/resources.json"

    def __init__(
        self,
        target: Any = None,
        *,
        url: str | None = None,
        timeout_s: float = 3.0,
        note: Note | None = None,
    ):
        """`target`: an `edgeload.target.Target` (its root URL and TLS settings are used), or
        give `url`, the endpoint's root (scheme://host:port)."""
        if target is not None:
            root = target.root_url
            self._http = HttpClient.for_target(target, timeout_s=timeout_s, pool_size=1)
        elif url is not None:
            root = url.rstrip("/")
            self._http = HttpClient(root, timeout_s=timeout_s, pool_size=1)
        else:
            raise ValueError("EndpointSampler needs a target or a url")
        parts = urlsplit(root)
        super().__init__(host=parts.netloc.rpartition("@")[2] or root, note=note)
        self.url = root + self.PATH
        self.last_raw: dict | None = None  # the last full answer (per-detector figures etc.)
        self._failing = False

    def _sample(self) -> dict | None:
        try:
            body = self._http.get_json(self.PATH)
        except HttpStatusError as exc:
            return self._unreachable(f"answered HTTP {exc.status}")
        except (HttpError, ValueError) as exc:  # no answer, or not JSON
            return self._unreachable(str(exc).split(": ", 1)[-1])
        if self._failing:
            self._failing = False
            self._note(f"{self.url} answers again")
        if not isinstance(body, dict):
            self.note_once("shape", f"{self.url} answered something other than a JSON object")
            return None
        if "error" in body and "system" not in body:
            self.note_once(
                "error",
                f"endpoint resources are not available ({body['error']}); "
                "endpoint CPU/GPU samples are skipped",
            )
            return None
        self.last_raw = body
        return parse_resources(body, source=self.source, host=self.host)

    def close(self) -> None:
        self._http.close()

    def _unreachable(self, reason: str) -> None:
        if not self._failing:
            self._failing = True
            self._note(f"cannot sample {self.url} ({reason}); will keep trying")
        return None


def parse_resources(body: dict, *, source: str = SOURCE_ENDPOINT, host: str = "") -> dict:
    """A utilization record body from a `/status/resources.json` answer (missing parts are
    None). Pure, so the format is tested without a server."""
    record = empty_record(source, host)
    system = body.get("system") or {}
    record["cpu_pct"] = _number(_dig(system, "cpu_utilization_pct", "total"))
    ram_used = _number(_dig(system, "ram_bytes", "used"))
    ram_total = _number(_dig(system, "ram_bytes", "total"))
    record["ram_used_bytes"] = None if ram_used is None else int(ram_used)
    record["ram_pct"] = _pct(ram_used, ram_total)
    gpu = system.get("gpu") or {}
    record["gpu_pct"] = _number(_dig(gpu, "compute_utilization_pct", "total"))
    vram_used = _number(_dig(gpu, "vram_bytes", "used"))
    vram_total = _number(_dig(gpu, "vram_bytes", "total"))
    record["vram_used_bytes"] = None if vram_used is None else int(vram_used)
    record["vram_total_bytes"] = None if vram_total is None else int(vram_total)
    record["vram_pct"] = _pct(vram_used, vram_total)
    gpus = []
    for position, device in enumerate(gpu.get("devices") or []):
        if not isinstance(device, dict):
            continue
        used = _number(_dig(device, "vram_bytes", "used"))
        total = _number(_dig(device, "vram_bytes", "total"))
        gpus.append(
            {
                "index": device.get("index", position),
                "name": device.get("name"),
                "gpu_pct": _number(device.get("compute_utilization_pct")),
                "vram_used_bytes": None if used is None else int(used),
                "vram_total_bytes": None if total is None else int(total),
            }
        )
    record["gpus"] = gpus
    return record


def _dig(mapping: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(key)
    return mapping


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


class SamplingLoop:
    """Calls samplers every `interval_s` seconds and emits complete `utilization` records.

    `emit(record)` gets {"type": "utilization", "t": wall-clock seconds, ...}. The loop runs on
    a daemon `threading.Thread`: a greenlet under gevent (Locust), a real thread otherwise.
    `stop()` is idempotent and waits for the loop to end.
    """

    def __init__(
        self,
        samplers: Sequence[Sampler],
        interval_s: float,
        emit: Callable[[dict], None],
        *,
        clock: Callable[[], float] = time.time,
        note: Note | None = None,
    ):
        if not interval_s > 0:
            raise ValueError(f"sampling interval must be positive, got {interval_s!r}")
        self.samplers = list(samplers)
        self.interval_s = float(interval_s)
        self._emit = emit
        self._clock = clock
        self._note = note or logger.warning
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._emit_failed = False
        self.samples_emitted = 0

    def sample_once(self) -> list[dict]:
        """Take one sample from every sampler now and emit the records; returns them."""
        records = []
        for sampler in self.samplers:
            body = sampler.sample()
            if body is None:
                continue
            record = {"type": runlog.UTILIZATION, "t": self._clock(), **body}
            try:
                self._emit(record)
            except Exception as exc:
                if not self._emit_failed:
                    self._emit_failed = True
                    self._note(f"could not record a resource sample: {exc}")
                continue
            self.samples_emitted += 1
            records.append(record)
        return records

    def start(self) -> SamplingLoop:
        if self._thread is not None:
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="edgeload-sampler", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.sample_once()
            next_at += self.interval_s
            now = time.monotonic()
            if next_at < now:  # a slow sample: skip the missed ticks instead of bursting
                next_at = now + self.interval_s
            if self._stop.wait(next_at - now):
                break

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)

    def close(self) -> None:
        """Stop the loop and release the samplers."""
        self.stop()
        for sampler in self.samplers:
            sampler.close()

    def __enter__(self) -> SamplingLoop:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()
