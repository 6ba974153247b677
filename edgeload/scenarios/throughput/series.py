"""The run's time series (pure): per-second rates and latency percentiles for the plots, and
utilization samples as arrays with window means."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeload.reporting.logreader import HIST_BINS, HIST_RATIO, SecondSeries, hist_bin_edges_ms
from edgeload.scenarios.throughput.metrics import UTILIZATION_FIELDS

SOURCES = ("endpoint", "generator")


@dataclass
class Series:
    """Per-second series for the time plots (x = seconds since the run started)."""

    elapsed_s: np.ndarray  # middle of each second
    requests: np.ndarray  # requests started in that second (= requests/s)
    errors: np.ndarray  # failed requests started in that second
    latency_p50_ms: np.ndarray  # NaN where no request started
    latency_p95_ms: np.ndarray
    corrected_latency_p95_ms: np.ndarray | None  # None when no request was paced


@dataclass
class UtilizationSeries:
    """The samples of one source and host, as arrays (NaN where a value was unknown)."""

    source: str
    host: str  # the host, or `host pid N` for one of several sampling processes on a host
    elapsed_s: np.ndarray
    values: dict[str, np.ndarray]  # field (cpu_pct, ...) -> values


def hist_percentiles(hist: np.ndarray, quantiles: list[float]) -> list[np.ndarray]:
    """Per-row percentiles of a (seconds x bins) latency histogram; NaN for empty rows.

    Within a bin the values are taken as spread log-uniformly, so the estimate moves smoothly
    instead of jumping from bin to bin.
    """
    edges = hist_bin_edges_ms()
    out = [np.full(len(hist), np.nan) for _ in quantiles]
    chunk = 4096  # rows at a time: bounded memory for long runs
    for lo in range(0, len(hist), chunk):
        counts = hist[lo : lo + chunk]
        cum = np.cumsum(counts, axis=1, dtype=np.int64)
        total = cum[:, -1]
        rows = np.arange(len(counts))
        for result, q in zip(out, quantiles, strict=True):
            target = np.maximum(q * total, 1e-9)
            index = np.minimum((cum < target[:, None]).sum(axis=1), HIST_BINS - 1)
            in_bin = counts[rows, index].astype(np.float64)
            before = cum[rows, index] - in_bin
            fraction = np.clip((target - before) / np.maximum(in_bin, 1), 0.0, 1.0)
            value = edges[index] * HIST_RATIO**fraction
            result[lo : lo + chunk] = np.where(total > 0, value, np.nan)
    return out


def second_series(seconds: SecondSeries, origin_t: float) -> Series:
    used = np.flatnonzero(seconds.requests)
    if seconds.base is None or len(used) == 0:
        empty = np.empty(0)
        return Series(empty, empty, empty, empty, empty, None)
    rows = slice(int(used[0]), int(used[-1]) + 1)
    hist = seconds.hist[rows]
    p50, p95 = hist_percentiles(hist, [0.5, 0.95])
    corrected = None
    if seconds.corrected_hist is not None:
        (corrected,) = hist_percentiles(seconds.corrected_hist[rows], [0.95])
    elapsed = seconds.base + np.arange(rows.start, rows.stop) + 0.5 - origin_t
    return Series(
        elapsed_s=elapsed,
        requests=seconds.requests[rows].copy(),
        errors=seconds.errors[rows].copy(),
        latency_p50_ms=p50,
        latency_p95_ms=p95,
        corrected_latency_p95_ms=corrected,
    )


def _line_names(rows: list[dict], hosts: np.ndarray) -> np.ndarray:
    """The chart line of each sample: its host, or `host pid N` where several processes on
    one host sample themselves (the load generator with --processes), so that their figures
    are lines of their own, not one line jumping between them."""
    pids = [r.get("pid") for r in rows]
    per_host: dict[str, set] = {}
    for host, pid in zip(hosts.tolist(), pids, strict=True):
        per_host.setdefault(host, set()).add(pid)
    names = [
        f"{host} pid {pid}" if len(per_host[host]) > 1 and pid is not None else host
        for host, pid in zip(hosts.tolist(), pids, strict=True)
    ]
    return np.array(names)


class Utilization:
    """Utilization samples as arrays, for window means."""

    def __init__(self, samples: list[dict], origin_t: float) -> None:
        self.by_source: dict[str, dict[str, np.ndarray]] = {}
        self.series: list[UtilizationSeries] = []
        for source in SOURCES:
            rows = [s for s in samples if s.get("source") == source]
            if not rows:
                continue
            arrays = {"t": np.array([r["t"] for r in rows], dtype=np.float64)}
            hosts = np.array([str(r.get("host") or "?") for r in rows])
            for name in UTILIZATION_FIELDS:
                arrays[name] = np.array(
                    [np.nan if r.get(name) is None else r[name] for r in rows], dtype=np.float64
                )
            arrays["host"] = hosts
            self.by_source[source] = arrays
            lines = _line_names(rows, hosts)
            for line in dict.fromkeys(lines.tolist()):
                mine = lines == line
                self.series.append(
                    UtilizationSeries(
                        source=source,
                        host=line,
                        elapsed_s=arrays["t"][mine] - origin_t,
                        values={f: arrays[f][mine] for f in UTILIZATION_FIELDS},
                    )
                )

    def count(self, source: str) -> int:
        arrays = self.by_source.get(source)
        return 0 if arrays is None else len(arrays["t"])

    def window_mean(self, source: str, start: float, end: float, host: str | None = None) -> dict:
        """Mean of each field over samples with start <= t < end (None where no value)."""
        arrays = self.by_source.get(source)
        result: dict = dict.fromkeys(UTILIZATION_FIELDS)
        result["samples"] = 0
        if arrays is None:
            return result
        inside = (arrays["t"] >= start) & (arrays["t"] < end)
        if host is not None:
            inside &= arrays["host"] == host
        result["samples"] = int(inside.sum())
        for name in UTILIZATION_FIELDS:
            values = arrays[name][inside]
            values = values[~np.isnan(values)]
            if len(values):
                result[name] = round(float(values.mean()), 2)
        return result

    def hosts(self, source: str) -> list[str]:
        arrays = self.by_source.get(source)
        return [] if arrays is None else list(dict.fromkeys(arrays["host"].tolist()))


@dataclass
class GpuSeries:
    """One GPU of one source and host over time (the samples' `gpus` lists)."""

    source: str
    host: str
    index: int
    name: str | None
    elapsed_s: np.ndarray
    gpu_pct: np.ndarray  # NaN where unknown
    vram_pct: np.ndarray


def gpu_series(samples: list[dict], origin_t: float) -> list[GpuSeries]:
    """Per-GPU utilization and VRAM % of every source and host whose samples list GPUs."""
    points: dict[tuple[str, str, int], list[tuple[float, float, float]]] = {}
    names: dict[tuple[str, str, int], str | None] = {}
    for sample in samples:
        for position, gpu in enumerate(sample.get("gpus") or ()):
            if not isinstance(gpu, dict):
                continue
            index = gpu.get("index")
            key = (
                str(sample.get("source")),
                str(sample.get("host") or "?"),
                index if isinstance(index, int) else position,
            )
            used, total = gpu.get("vram_used_bytes"), gpu.get("vram_total_bytes")
            vram = 100.0 * used / total if used is not None and total else np.nan
            busy = gpu.get("gpu_pct")
            points.setdefault(key, []).append(
                (sample["t"] - origin_t, np.nan if busy is None else float(busy), vram)
            )
            names.setdefault(key, gpu.get("name"))
    series = []
    for key, rows in points.items():
        array = np.array(rows, dtype=np.float64)
        series.append(
            GpuSeries(
                source=key[0],
                host=key[1],
                index=key[2],
                name=names[key],
                elapsed_s=array[:, 0],
                gpu_pct=array[:, 1],
                vram_pct=array[:, 2],
            )
        )
    return series
