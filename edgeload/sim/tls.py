"""HTTPS for the simulator: a self-signed certificate made with the `openssl` command-line tool.

Real edge endpoints now serve HTTPS with self-signed certificates; `edgeload sim --tls` and
`SimulatedEndpoint(tls=True)` do the same, so that the suite's certificate handling
(`DISABLE_TLS_VERIFY=1`, `--ca-bundle PATH`) is tested against a real TLS server. The tool is
used instead of a Python package so that HTTPS adds no dependency. The certificate is its own
CA (basicConstraints CA:TRUE, as `openssl req -x509` writes it), so the certificate file is
the CA bundle a client is given.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import shutil
import ssl
import subprocess
import time
from pathlib import Path

from edgeload.errors import UsageError

CERT_FILENAME = "cert.pem"
KEY_FILENAME = "key.pem"
LOOPBACK_NAMES = ("127.0.0.1", "::1", "localhost")
CACHE_VALID_DAYS = 365
# A cached certificate is made again this long before it expires.
_RENEW_BEFORE_S = 7 * 86400


def subject_alt_names(host: str | None = None) -> list[str]:
    """The names the certificate is valid for: loopback, plus `host` when it is specific."""
    names = list(LOOPBACK_NAMES)
    if host and host not in ("0.0.0.0", "::", "") and host not in names:
        names.append(host)
    entries = []
    for name in names:
        try:
            ipaddress.ip_address(name)
            entries.append(f"IP:{name}")
        except ValueError:
            entries.append(f"DNS:{name}")
    return entries


def make_certificate(directory: Path, *, host: str | None = None, days: int = 2) -> Path:
    """Write cert.pem and key.pem into `directory`; returns the certificate's path.
    UsageError (one line) when the openssl tool is missing or fails."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise UsageError(
            "HTTPS needs the openssl command-line tool to make a certificate: install openssl "
            "(e.g. apt-get install openssl) or run the simulator without --tls"
        )
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / CERT_FILENAME, directory / KEY_FILENAME
    command = [
        openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-days", str(days), "-subj", "/CN=127.0.0.1",
        "-addext", "subjectAltName=" + ",".join(subject_alt_names(host)),
        "-keyout", str(key), "-out", str(cert),
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"openssl could not make a certificate: {exc}") from None
    if done.returncode != 0 or not cert.is_file() or not key.is_file():
        detail = " ".join((done.stderr or "").split())[:200]
        raise UsageError(f"openssl could not make a certificate ({detail})")
    os.chmod(key, 0o600)
    return cert


def cache_dir() -> Path:
    """Where `edgeload sim --tls` keeps its certificate, so the path given to clients as
    --ca-bundle stays valid across restarts."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "edgeload" / "sim-tls"


def cached_certificate(host: str | None = None) -> tuple[Path, Path]:
    """(cert, key) from the cache, made now if missing or close to expiry."""
    names = ",".join(subject_alt_names(host))
    directory = cache_dir() / hashlib.sha256(names.encode()).hexdigest()[:12]
    cert, key = directory / CERT_FILENAME, directory / KEY_FILENAME
    max_age = CACHE_VALID_DAYS * 86400 - _RENEW_BEFORE_S
    try:
        fresh = cert.is_file() and key.is_file() and time.time() - cert.stat().st_mtime < max_age
    except OSError:
        fresh = False
    if not fresh:
        try:
            make_certificate(directory, host=host, days=CACHE_VALID_DAYS)
        except OSError as exc:
            raise UsageError(f"cannot write a certificate into {directory}: {exc}") from None
    return cert, key


def server_context(cert: str | os.PathLike, key: str | os.PathLike) -> ssl.SSLContext:
    """The server side of TLS for these files; UsageError when they cannot be loaded."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(str(cert), str(key))
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"cannot load the TLS certificate {cert}: {exc}") from None
    return context
