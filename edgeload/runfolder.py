"""The run folder: one per run, `<output dir>/<UTC time>-<scenario>`, and safe writes into it.

Names sort by time whatever the scenario or the machine's time zone:

    load_tests/2026-12-01T08-06-28Z-throughput/
    load_tests/2026-12-01T08-09-02Z-fps/

A folder is never reused: a second run in the same second gets `-2`, `-3`, ... Every file is
written to a hidden temporary name and renamed, so a crash or a full disk never leaves half a
file, and a failed write removes its temporary file and raises `OutputError` naming the file.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edgeload.errors import OutputError, UsageError

DEFAULT_OUTPUT_DIR = "load_tests"
_STAMP_FORMAT = "%Y-%m-%dT%H-%M-%SZ"


def run_dir_name(scenario: str, now: datetime | None = None) -> str:
    """`2026-12-01T08-06-28Z-throughput` for a run started now (UTC)."""
    return f"{(now or datetime.now(UTC)).astimezone(UTC).strftime(_STAMP_FORMAT)}-{scenario}"


def check_output_dir(output_dir: str | os.PathLike) -> Path:
    """The output folder, created if needed and proven writable; UsageError (one line) if not.

    Called before provisioning, so an unusable folder costs no set-up time.
    """
    base = Path(output_dir)
    try:
        base.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=base, prefix=".edgeload-probe-", delete=True)
        probe.write(b"x")
        probe.flush()
        probe.close()
    except OSError as exc:
        raise UsageError(
            f"--output-dir {str(base)!r} is not writable ({os_error_cause(exc)}): give a folder "
            "you can write to"
        ) from None
    return base


def create_run_dir(
    output_dir: str | os.PathLike, scenario: str, now: datetime | None = None
) -> Path:
    """A new, empty run folder for `scenario` under `output_dir` (never an existing one)."""
    base = check_output_dir(output_dir)
    name = run_dir_name(scenario, now)
    for attempt in range(1, 1000):
        path = base / (name if attempt == 1 else f"{name}-{attempt}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
        except OSError as exc:
            raise OutputError(
                f"cannot create the run folder {path}: {os_error_cause(exc)}"
            ) from None
    raise OutputError(f"cannot create a new run folder in {base}: 999 runs in one second")


def write_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` through a hidden temporary file and a rename.

    On any OSError the temporary file is removed and OutputError names the file and the cause.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        remove_quietly(tmp)
        raise OutputError(f"cannot write {path}: {os_error_cause(exc)}") from None
    return path


def write_json(path: str | os.PathLike, body: Any) -> Path:
    """Write a JSON document atomically (indented, no NaN: strict JSON for other tools)."""
    try:
        text = json.dumps(body, indent=2, allow_nan=False) + "\n"
    except ValueError as exc:  # a NaN or infinity slipped into a figure: a bug, said plainly
        raise OutputError(f"cannot write {path}: {exc}") from None
    return write_atomic(path, text.encode())


def remove_quietly(path: str | os.PathLike) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def os_error_cause(exc: OSError) -> str:
    """Why a file operation failed, in a few plain words."""
    if exc.errno == errno.ENOSPC:
        return "no space left on the device"
    if exc.errno in (errno.EROFS,):
        return "read-only file system"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return exc.strerror or str(exc)
