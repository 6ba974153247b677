"""Build small `load_test.log` files in the log schema, with answers known by construction.

Usage:
    log = LogFactory()
    log.step(0, clients=1, expected_rps=10.0, t=T0)
    log.requests(t=[...], latency_ms=[...], ok=[...], step=0, clients=1)
    log.end(T0 + 10)
    run_dir = log.save(tmp_path)
"""

from __future__ import annotations

import json
from pathlib import Path

from edgeload import runlog

T0 = 1_700_000_000.0  # a whole number: durations between T0 + k come out exact


class LogFactory:
    def __init__(
        self,
        *,
        schema_version: int = runlog.SCHEMA_VERSION,
        created_at: str = "2025-01-02T03:04:05+00:00",
        inputs: dict | None = None,
        metadata: dict | None = None,
        target: dict | None = None,
        scenario: str = "throughput",
    ) -> None:
        self.lines: list[str] = []
        self.add(
            {
                "type": "header",
                "schema_version": schema_version,
                "tool": "edgeload",
                "tool_version": "test",
                "scenario": scenario,
                "created_at": created_at,
                "target": target or {"kind": "simulated", "url": "http://127.0.0.1:1"},
                # no settle time unless a test asks for one: the step windows the tests build
                # are then measured whole
                "inputs": {"step_settle_seconds": 0}
                | (inputs if inputs is not None else {"detector_mode": "BINARY"}),
                "metadata": metadata if metadata is not None else {},
            }
        )

    def add(self, record: dict) -> LogFactory:
        self.lines.append(json.dumps(record))
        return self

    def step(self, step: int, *, clients: int, expected_rps: float | None, t: float):
        return self.add(
            {"type": "step", "t": t, "step": step, "clients": clients, "expected_rps": expected_rps}
        )

    def requests(
        self,
        *,
        t: list[float],
        latency_ms: list[float],
        step: int | list[int],
        clients: int | list[int] = 1,
        ok: list[int] | None = None,
        error: list | None = None,
        intended: list | None = None,
        status: list[int] | None = None,
        worker: str = "local",
    ):
        n = len(t)
        ok = ok if ok is not None else [1] * n
        record = {
            "type": "requests",
            "worker": worker,
            "n": n,
            "t": list(t),
            "intended": intended if intended is not None else [None] * n,
            "latency_ms": list(latency_ms),
            "ok": ok,
            "status": status or [200 if o else 503 for o in ok],
            "error": error if error is not None else [None if o else "http_503" for o in ok],
            "detector": ["det_test"] * n,
            "clients": clients if isinstance(clients, list) else [clients] * n,
            "step": step if isinstance(step, list) else [step] * n,
        }
        return self.add(record)

    def uniform_requests(
        self,
        *,
        step: int,
        start: float,
        duration: float,
        n: int,
        failures: int = 0,
        latency_ms: float | list[float] = 10.0,
        clients: int = 1,
        batch: int = 1000,
    ):
        """n requests evenly spread over [start, start + duration); the first `failures` fail."""
        times = [start + duration * i / n for i in range(n)]
        lat = latency_ms if isinstance(latency_ms, list) else [latency_ms] * n
        ok = [0] * failures + [1] * (n - failures)
        for lo in range(0, n, batch):
            hi = min(n, lo + batch)
            self.requests(
                t=times[lo:hi], latency_ms=lat[lo:hi], ok=ok[lo:hi], step=step, clients=clients
            )
        return self

    def utilization(self, t: float, source: str, host: str = "host", **values):
        record = {"type": "utilization", "t": t, "source": source, "host": host}
        for key in ("cpu_pct", "ram_pct", "gpu_pct", "vram_pct"):
            record[key] = values.get(key)
        return self.add(record)

    def worker_lost(self, t: float, worker: str, unreceived: int):
        return self.add(
            {"type": "worker_lost", "t": t, "worker": worker, "unreceived_requests": unreceived}
        )

    def end(
        self,
        t: float,
        status: str = "completed",
        reason: str = "ramp finished",
        locust_request_count: int | None = None,
    ):
        return self.add(
            {
                "type": "end",
                "t": t,
                "status": status,
                "reason": reason,
                "locust_request_count": locust_request_count,
            }
        )

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"

    def save(self, run_dir: Path, tail: str = "") -> Path:
        """Write run_dir/load_test.log (plus `tail`, e.g. a cut-off line); return run_dir."""
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "load_test.log").write_text(self.text() + tail, encoding="utf-8")
        return run_dir
