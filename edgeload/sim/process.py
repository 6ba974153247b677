"""`SimulatedEndpoint`: the simulator in its own subprocess, controlled from Python.

The child is `python -m edgeload.sim`; it binds its ports (0 = a free one), prints its URLs on
stdout and serves until stopped. Running it in a subprocess keeps it off the caller's event
loop and GIL, and works the same from a gevent-patched process (Locust, pytest here) and a
plain one. The child also exits on its own when this process dies (its stdin pipe closes).
The admin calls use urllib (never proxies: the simulator is on loopback).
"""

from __future__ import annotations

import json
import os
import secrets
import select
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from edgeload.errors import UsageError

READY_PREFIX = "EDGELOAD_SIM_READY "
# A well-formed token the simulator accepts (it accepts any well-formed one). Not a secret.
DEMO_TOKEN = "api_edgeloadSimulatedEndpointDemoToken0"

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class SimulatedEndpoint:
    """A simulated edge endpoint on `url`; see docs/architecture.md for the contract."""

    def __init__(
        self,
        profile: str | Path = "gpu-1x",
        *,
        time_scale: float = 1.0,
        host: str = "127.0.0.1",
        port: int = 0,
        overrides: dict | None = None,
        tls: bool = False,
        k8s_port: int = 0,
        cloud_port: int = 0,
        start_timeout_s: float = 30.0,
        admin_token: str | None = None,
    ) -> None:
        self.tls = bool(tls)
        # beyond loopback the admin API (faults, downtime) needs a token: made up if not given
        loopback = host in ("127.0.0.1", "localhost", "::1")
        self.admin_token = admin_token or (None if loopback else secrets.token_urlsafe(16))
        self.k8s_port = k8s_port
        self.cloud_port = cloud_port
        self.profile = str(profile)
        self.time_scale = time_scale
        self.host = host
        self.port = port
        self.overrides = overrides
        self.start_timeout_s = start_timeout_s
        self.url = ""  # the box's edge port (what GROUNDLIGHT_ENDPOINT names)
        self.k8s_url = ""  # its Kubernetes API server, on a port of its own
        self.cloud_url = ""  # the simulated cloud the box falls back and escalates to
        self.token = DEMO_TOKEN
        # with tls=True: the self-signed certificate (its own CA), the file a client verifies
        # the simulator with (`--ca-bundle`, `EDGELOAD_CA_BUNDLE`); removed by stop()
        self.ca_bundle: str | None = None
        self._tls_dir: str | None = None
        self._opener = _NO_PROXY
        self._proc: subprocess.Popen | None = None
        self._stderr: Any = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> SimulatedEndpoint:
        """Start the child and return once it answers; raises UsageError if it cannot start."""
        if self._proc is not None:
            return self
        cmd = [
            sys.executable,
            "-m",
            "edgeload.sim",
            "--profile",
            self.profile,
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--k8s-port",
            str(self.k8s_port),
            "--cloud-port",
            str(self.cloud_port),
            "--time-scale",
            repr(float(self.time_scale)),
            "--exit-on-stdin-eof",
        ]
        if self.overrides:
            cmd += ["--overrides", json.dumps(self.overrides)]
        if self.tls:
            cmd += self._make_certificate()
        self._stderr = tempfile.TemporaryFile()
        env = dict(os.environ)
        env.pop("PYTHONSTARTUP", None)
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env.pop("EDGELOAD_SIM_ADMIN_TOKEN", None)
        if self.admin_token is not None:
            env["EDGELOAD_SIM_ADMIN_TOKEN"] = self.admin_token
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            close_fds=True,
            # A session of its own: a terminal's Ctrl-C goes to the whole foreground process
            # group, and the run that embeds this simulator must outlive that signal long
            # enough to report what it measured; it stops the simulator itself, and the
            # simulator leaves by itself when our end of its stdin closes (we died).
            start_new_session=True,
        )
        try:
            self.url, self.k8s_url, self.cloud_url = self._read_ready_line()
            self._wait_answering()
        except BaseException:
            self.stop()
            raise
        return self

    def _make_certificate(self) -> list[str]:
        """A fresh self-signed certificate in a private temporary folder; the child's options."""
        from edgeload.sim.tls import KEY_FILENAME, make_certificate

        self._tls_dir = tempfile.mkdtemp(prefix="edgeload-sim-tls-")
        try:
            cert = make_certificate(Path(self._tls_dir), host=self.host)
        except BaseException:
            self._remove_tls_dir()
            raise
        self.ca_bundle = str(cert)
        context = ssl.create_default_context(cafile=self.ca_bundle)
        self._opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
        )
        return ["--tls-cert", str(cert), "--tls-key", str(Path(self._tls_dir) / KEY_FILENAME)]

    def _remove_tls_dir(self) -> None:
        tls_dir, self._tls_dir = self._tls_dir, None
        if tls_dir is not None:
            shutil.rmtree(tls_dir, ignore_errors=True)

    def _read_ready_line(self) -> tuple[str, str, str]:
        assert self._proc is not None and self._proc.stdout is not None
        deadline = time.monotonic() + self.start_timeout_s
        fd = self._proc.stdout.fileno()
        buf = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    break  # child closed stdout: it died
                buf += chunk
                if b"\n" in buf:
                    line = buf.split(b"\n", 1)[0].decode(errors="replace")
                    urls = line[len(READY_PREFIX) :].split()
                    if line.startswith(READY_PREFIX) and len(urls) == 3:
                        return urls[0], urls[1], urls[2]
                    break
            elif self._proc.poll() is not None:
                break
        self._raise_start_failure()
        raise AssertionError("unreachable")

    def _raise_start_failure(self) -> None:
        code = self._proc.poll() if self._proc is not None else None
        message = self._child_error()
        if message:
            raise UsageError(message.removeprefix("edgeload sim: error: "))
        if code is None:
            raise UsageError(f"the simulator did not start within {self.start_timeout_s:.0f} s")
        raise UsageError(f"the simulator exited with code {code} before listening")

    def _child_error(self) -> str:
        if self._stderr is None:
            return ""
        try:
            self._stderr.seek(0)
            lines = [
                ln.strip()
                for ln in self._stderr.read().decode(errors="replace").splitlines()
                if ln.strip()
            ]
        except (OSError, ValueError):
            return ""
        for line in reversed(lines):
            if "error:" in line:
                return line
        return lines[-1] if lines else ""

    def _wait_answering(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while True:
            try:
                self._admin("GET", "/_sim/health", timeout=2.0)
                return
            except OSError:
                if time.monotonic() > deadline or (
                    self._proc is not None and self._proc.poll() is not None
                ):
                    self._raise_start_failure()
                time.sleep(0.02)

    def stop(self) -> None:
        """End the child (idempotent): SIGTERM, then SIGKILL if it does not go within 5 s."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5.0)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5.0)
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    try:
                        stream.close()
                    except OSError:
                        pass
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        self._remove_tls_dir()

    close = stop

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def __enter__(self) -> SimulatedEndpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __del__(self) -> None:  # best effort: never leave a child behind
        try:
            if self._proc is not None and self._proc.poll() is None:
                self._proc.kill()
        except Exception:
            pass

    # -- admin API ---------------------------------------------------------------------------
    def _admin(self, method: str, path: str, body: Any = None, timeout: float = 10.0) -> Any:
        if not self.url:
            raise UsageError("the simulator is not running (call start())")
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if self.admin_token is not None:
            req.add_header("x-edgeload-admin-token", self.admin_token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with self._opener.open(req, timeout=timeout) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read()).get("detail", "")
            except (ValueError, AttributeError):
                detail = exc.reason
            raise UsageError(f"simulator admin {path}: {detail}") from None

    def state(self) -> dict:
        """Detectors, pods, model versions, counters, faults (GET /_sim/state)."""
        return self._admin("GET", "/_sim/state")

    def set_faults(self, **knobs: Any) -> dict:
        """Change fault knobs (see edgeload.sim.faults); returns the knobs now in force."""
        return self._admin("POST", "/_sim/faults", knobs)

    def clear_faults(self) -> dict:
        return self.set_faults(
            error_rate={},
            spike_rate=0,
            spike_s=0,
            stall_every_s=0,
            stall_s=0,
            drop_rate=0,
            down_for_s=0,
        )

    def new_model(self, detector_id: str) -> dict:
        """Make the cloud publish a new model version for the detector (triggers a rollout)."""
        return self._admin("POST", "/_sim/new-model", {"detector_id": detector_id})

    def set_edge_pipeline_config(self, detector_id: str, config: str | None) -> dict:
        """Change a detector's edge pipeline config in the cloud (None: the mode's default);
        the edge rolls a new model with it out."""
        return self._admin(
            "POST",
            "/_sim/edge-pipeline-config",
            {"detector_id": detector_id, "edge_pipeline_config": config},
        )

    def down(self, seconds: float) -> dict:
        """Take the endpoint down (connections reset) for `seconds` simulated seconds."""
        return self._admin("POST", "/_sim/down", {"seconds": seconds})
