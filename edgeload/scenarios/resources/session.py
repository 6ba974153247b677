"""One resources run: its run folder (new, or the one resumed), `load_test.log`, the batches and
the end.

What it writes (the format is `edgeload.runlog`; the fields `analysis.py` reads):

    header   scenario "resources", the inputs (every combination of the matrix), metadata
             (with `resumed` on a resumed run: the earlier logs and how many rows they gave)
    sample   `combination`: one per combination measured (or failed), with its detector and
             figures; a resumed log starts with the measured ones of the earlier log
             (`carried: true`), so this log alone gives every row
    sample   `batch`: after each batch, its keys and the NVML figures around it (`nvml.py`)
    event    `batch` when a batch starts
    end      completed / interrupted (with the signal) / failed

Files beside the log: `matrix.yaml` (the matrix as given), and after every batch the reports
(`results.csv`, the plot, `load_test_results.json`, `report.html`) of the rows so far. A
resumed run keeps its earlier log as `load_test.part<k>.log`.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from edgeload import runlog
from edgeload.runfolder import create_run_dir, write_atomic
from edgeload.runlog import LogWriter
from edgeload.samplers import NvmlSampler, Sampler
from edgeload.scenarios.resources import batch as batch_module
from edgeload.scenarios.resources import nvml
from edgeload.scenarios.resources.analysis import BATCH, COMBINATION, MEASURED_STATUSES
from edgeload.scenarios.resources.matrix import Combination
from edgeload.scenarios.resources.options import MATRIX_SNAPSHOT, SCENARIO, Inputs
from edgeload.scenarios.resources.podmetrics import PodMetrics
from edgeload.sessionrun import end_and_report


class ResourcesSession:
    """One run against one target (see the module docstring)."""

    def __init__(
        self,
        inputs: Inputs,
        target: Any,
        *,
        out: TextIO | None = None,
        nvml_factory: Callable[[], Sampler] = NvmlSampler,
    ) -> None:
        """`nvml_factory` makes the NVML sampler (tests give a fake; this machine's NVML by
        default), called only where NVML figures would be the target's (see nvml.py)."""
        self.inputs = inputs
        self.target = target
        self.out = out if out is not None else sys.stdout
        self.run_dir: Path | None = None
        self.writer: LogWriter | None = None
        self.measured: set[str] = set()  # keys of the combinations already measured
        self.batches = 0
        self.pods: PodMetrics | None = None
        self.gpu: nvml.GpuMemory | None = None
        self._nvml_factory = nvml_factory
        self.finished = False

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    # -- the start -------------------------------------------------------------------------
    def start(self) -> Path:
        """The run folder and the log with its header (and the carried rows on resume)."""
        from edgeload.metadata import collect_metadata

        self.pods = PodMetrics.connect(self.inputs.k8s, self.target)
        try:
            metadata = collect_metadata(self.target)
        except Exception as exc:  # metadata must never fail a run
            metadata = {"error": f"metadata collection failed: {exc}"}
        metadata["pod_metrics"] = {"source": self.pods.source, "note": self.pods.note}
        self.gpu = nvml.GpuMemory.connect(self.target, self._nvml_factory)
        metadata["nvml"] = self.gpu.as_record()
        if self.inputs.resume:
            self._resume(metadata)
        else:
            self.run_dir = create_run_dir(self.inputs.output_dir, SCENARIO)
            write_atomic(self.run_dir / MATRIX_SNAPSHOT, self.inputs.matrix_text.encode())
            self.writer = LogWriter(self.run_dir / runlog.LOG_FILENAME)
            self.write(self._header(metadata, None))
        assert self.writer is not None
        self.writer.flush()
        return self.run_dir  # type: ignore[return-value]

    def _header(self, metadata: dict, created_at: str | None) -> dict:
        return runlog.header(
            scenario=SCENARIO,
            run_id=runlog.new_run_id(),
            target=self.target.as_record(),
            inputs=self.inputs.as_record(),
            metadata=metadata,
            created_at=created_at,
        )

    def _resume(self, metadata: dict) -> None:
        """A new log in the resumed folder: the earlier one is kept as load_test.part<k>.log,
        its measured rows are carried, and `created_at` stays the run's (so its reports are
        this run's, re-written)."""
        from edgeload.reporting.logreader import read_log

        run_dir = Path(self.inputs.resume or "")
        log_path = run_dir / runlog.LOG_FILENAME
        previous = read_log(log_path, keep_requests=False)
        keys = {c.key for c in self.inputs.combinations}
        carried = [
            s
            for s in previous.samples_of(COMBINATION)
            if s.get("status") in MEASURED_STATUSES and s.get("key") in keys
        ]
        carried = list({s["key"]: s for s in carried}.values())  # the last reading of each
        part = _next_part(run_dir)
        earlier = (previous.header.get("metadata") or {}).get("resumed") or {}
        metadata["resumed"] = {
            "previous_logs": [*earlier.get("previous_logs", []), part.name],
            "previous_run_ids": [*earlier.get("previous_run_ids", []), previous.header["run_id"]],
            "carried_rows": len(carried),
            "resumed_at": runlog.utc_now_iso(),
        }
        staging = run_dir / f".{runlog.LOG_FILENAME}.resuming"
        self.writer = LogWriter(staging)
        self.write(self._header(metadata, previous.header.get("created_at")))
        for sample in carried:
            self.write({**sample, "carried": True})
        self.writer.flush()
        os.replace(log_path, part)  # the open log follows its file: it is renamed, not copied
        os.replace(staging, log_path)
        self.writer.path = str(log_path)
        self.run_dir = run_dir
        self.measured = {s["key"] for s in carried}
        self.say(
            f"resuming {run_dir}: {len(carried)} of {len(keys)} combinations already measured "
            f"(earlier log kept as {part.name})"
        )

    def write(self, record: dict) -> None:
        assert self.writer is not None
        self.writer.write(record)

    # -- the batches -----------------------------------------------------------------------
    def pending(self) -> list[Combination]:
        return [c for c in self.inputs.combinations if c.key not in self.measured]

    def run_batch(self, combos: list[Combination]) -> None:
        """Bring the batch's detectors up at once, measure each, re-draw the reports. The
        GPUs' used memory (NVML) is read right before the bring-up and right after the last
        reading of the batch."""
        self.batches += 1
        index = self.batches
        keys = ", ".join(c.key for c in combos)
        self.write(runlog.event("batch", f"batch {index}: {keys}", batch=index))
        self.writer.flush()  # type: ignore[union-attr]
        self.say(f"batch {index}: bringing up {len(combos)} detector(s): {keys}")
        assert self.gpu is not None
        loaded = None
        if self.gpu.attributable and len(combos) == 1:  # a detector loaded already adds nothing
            loaded = nvml.loaded_detector_ids(self.target)
        before = self.gpu.used_bytes()
        started = time.monotonic()
        brought_up = batch_module.provision_all(
            self.target, combos, timeout_s=self.inputs.provision_timeout, say=self.say
        )
        self.say(f"batch {index}: brought up in {time.monotonic() - started:.1f} s")
        alone = len(combos) == 1  # a larger batch's NVML readings are on its batch sample
        after = None
        for position, combo in enumerate(combos):
            detector, seconds = brought_up[combo.key]
            fields = self._measure(combo, detector)
            if position == len(combos) - 1:
                after = self.gpu.used_bytes()  # right after the batch's last reading
            why = nvml.row_reason(self.gpu.reason, len(combos), fields.get("detector_id"), loaded)
            fields["nvml"] = nvml.figures(before if alone else None, after if alone else None, why)
            self._record(combo, index, seconds, fields)
        batch_nvml = nvml.figures(before, after, self.gpu.reason)
        keys_list = [c.key for c in combos]
        self.write(runlog.sample(BATCH, batch=index, keys=keys_list, nvml=batch_nvml))
        self.writer.flush()  # type: ignore[union-attr]
        from edgeload.reporting import write_reports

        write_reports(self.run_dir)  # type: ignore[arg-type] - the plot of the rows so far

    def _measure(self, combo: Combination, detector: Any) -> dict:
        """The `combination` sample fields of one combination (failed, or read)."""
        if isinstance(detector, KeyboardInterrupt):
            raise detector
        if isinstance(detector, BaseException):
            return batch_module.failure_fields(combo, detector)
        assert self.pods is not None
        return batch_module.measure(self.target, combo, detector, self.inputs.queries, self.pods)

    def _record(self, combo: Combination, index: int, seconds: float, fields: dict) -> None:
        self.write(
            runlog.sample(
                COMBINATION, **combo.as_record(), batch=index, bring_up_s=seconds, **fields
            )
        )
        self.writer.flush()  # type: ignore[union-attr]
        if fields["status"] in MEASURED_STATUSES:
            self.measured.add(combo.key)
        self.say(f"[{combo.key}] {_describe(fields)}")

    # -- the end ---------------------------------------------------------------------------
    def finish(self, status: str, reason: str, signal_name: str | None = None) -> dict | None:
        """End the log, write the reports, print the summary; the results (None when the run
        never opened its log, or a write failed). Idempotent."""
        if self.pods is not None:
            self.pods.close()
        if self.gpu is not None:
            self.gpu.close()
        if self.finished or self.writer is None:
            return None
        self.finished = True
        assert self.run_dir is not None
        end = runlog.end(status, reason, signal=signal_name)
        return end_and_report(self.writer, self.run_dir, end, self.say)


def _next_part(run_dir: Path) -> Path:
    for k in range(1, 10_000):
        path = run_dir / f"load_test.part{k}.log"
        if not path.exists():
            return path
    raise RuntimeError(f"{run_dir}: too many earlier logs")  # never: bounded by resumes


def _describe(fields: dict) -> str:
    if fields["status"] == batch_module.FAILED:
        return f"failed: {fields['error']}"
    endpoint, pods = fields["endpoint"], fields["pods"]
    parts = [
        f"RAM {_mib(endpoint['ram_bytes'])}, VRAM {_mib(endpoint['vram_bytes'])} (endpoint)"
        if endpoint["ram_bytes"] is not None or endpoint["vram_bytes"] is not None
        else f"endpoint: {endpoint['note']}",
        f"pods RAM {_mib(pods['ram_bytes'])}"
        if pods["ram_bytes"] is not None
        else f"pods: {pods['note']}",
    ]
    delta = (fields.get("nvml") or {}).get("vram_delta_bytes")
    if delta is not None:
        parts.append(f"GPU memory {delta / 2**20:+.0f} MiB (NVML)")
    return f"{fields['status']}: " + "; ".join(parts)


def _mib(value: int | None) -> str:
    return "n/a" if value is None else f"{value / 2**20:.0f} MiB"
