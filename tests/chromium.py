"""Headless Chromium for the browser tests: load a page, let its scripts run, and read back the
DOM, a screenshot and the console messages.

Debian's `chromium` package (`.ci/run` installs it). Tests that need it call `require()`, which
skips them with the reason when no Chromium can be found.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def find() -> str | None:
    """The Chromium binary: $EDGELOAD_CHROMIUM, else the first on PATH."""
    given = os.environ.get("EDGELOAD_CHROMIUM")
    if given:
        return given if Path(given).exists() else None
    for name in _CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def require() -> str:
    path = find()
    if path is None:
        pytest.skip("no Chromium here (apt-get install chromium; .ci/run installs it)")
    return path


@dataclass
class Page:
    dom: str  # the DOM after the page's scripts ran
    console: list[str]  # console messages and page errors Chromium logged
    screenshot: Path | None


def load(
    url: str,
    *,
    screenshot: Path | None = None,
    wait_ms: int = 5000,
    size: tuple[int, int] = (1400, 1000),
    timeout_s: float = 90,
) -> Page:
    """Load url in headless Chromium, run its scripts for up to wait_ms of virtual time, and
    return the DOM, the console lines and (if asked) a screenshot."""
    binary = require()
    with tempfile.TemporaryDirectory(prefix="edgeload-chromium-") as profile:
        common = [
            binary,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--metrics-recording-only",
            "--no-default-browser-check",
            f"--user-data-dir={profile}",
            f"--window-size={size[0]},{size[1]}",
            f"--virtual-time-budget={wait_ms}",
            "--enable-logging=stderr",
            "--v=0",
        ]
        dom = subprocess.run(
            [*common, "--dump-dom", url],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        console = [
            line for line in dom.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line
        ]
        if screenshot is not None:
            subprocess.run(
                [*common, f"--screenshot={screenshot}", url],
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
            )
    return Page(dom=dom.stdout, console=console, screenshot=screenshot)
