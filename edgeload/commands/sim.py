"""`edgeload sim`: run the simulated edge endpoint in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import secrets
import sys

from edgeload import options as opt
from edgeload.errors import UsageError
from edgeload.options import INT, TEXT, Option

HELP = "Run a simulated Groundlight Edge Endpoint (real HTTP server speaking the real protocol)."


PORT = Option(
    "--port", INT, 30101, "edge port to listen on (0: any free port)", minimum=0, maximum=65535
)
K8S_PORT = Option(
    "--k8s-port",
    INT,
    0,
    "port of the simulated Kubernetes API server, apart from the edge port as on a real box "
    "(0: any free port; the address is printed)",
    minimum=0,
    maximum=65535,
)
CLOUD_PORT = Option(
    "--cloud-port",
    INT,
    0,
    "port of the simulated Groundlight cloud the box escalates and falls back to (0: any "
    "free port; the address is printed)",
    minimum=0,
    maximum=65535,
)
HOST = Option(
    "--host",
    TEXT,
    "127.0.0.1",
    "address to listen on; beyond loopback the admin API needs a token (see --admin-token)",
)
ADMIN_TOKEN = Option(
    "--admin-token",
    TEXT,
    None,
    "token the admin API (/_sim/: faults, downtime) requires in the x-edgeload-admin-token "
    "header; made up and printed once when --host is not loopback (or set "
    "EDGELOAD_SIM_ADMIN_TOKEN)",
)
# The same spelling as on every scenario; a profile name, or its own time scale when unset.
OPTIONS = (
    opt.SIM_PROFILE.with_default("gpu-1x"),
    opt.SIM_TIME_SCALE.with_default(None),
    HOST,
    PORT,
    K8S_PORT,
    CLOUD_PORT,
    ADMIN_TOKEN,
)
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    opt.add_arguments(parser, OPTIONS)
    # the names this command had before the option layer spelled them as every command does
    parser.add_argument("--profile", dest="sim_profile", help=argparse.SUPPRESS)
    parser.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS with a self-signed certificate (made with openssl, kept in "
        "~/.cache/edgeload/sim-tls/), as real edge endpoints do; clients then need "
        "--ca-bundle CERT or DISABLE_TLS_VERIFY=1",
    )
    parser.add_argument(
        "--list-profiles", action="store_true", help="list the named profiles and exit"
    )


def _summary(profile: object) -> str:
    box = profile.box
    gpus = ", ".join(f"{g.name} {g.vram_bytes / 1024**3:.0f} GiB" for g in box.gpus) or "no GPU"
    svc = profile.service
    service = (
        f"{svc.fixed_ms:g} ms fixed"
        if svc.fixed_ms is not None
        else f"{svc.base_ms:g} ms + {svc.per_megapixel_ms:g} ms/MP"
    )
    return (
        f"profile {profile.name}: {profile.description or '-'}; {gpus}; "
        f"{box.ram_bytes / 1024**3:.0f} GiB RAM; "
        f"pod start-up {profile.pods.startup_s:g} s; service {service}; "
        f"refresh {profile.updater.refresh_rate_s:g} s"
    )


def run(args: argparse.Namespace) -> int:
    from edgeload.sim.profile import list_profiles, load_profile

    if args.list_profiles:
        for name in list_profiles():
            try:
                desc = load_profile(name).description
            except UsageError as exc:
                desc = f"(invalid: {exc})"
            print(f"{name:24s} {desc}")
        return 0
    values = opt.parse_options(args, OPTIONS)
    host = values["host"]
    token = values["admin_token"] or os.environ.get("EDGELOAD_SIM_ADMIN_TOKEN") or None
    if token is None and host not in LOOPBACK:
        token = secrets.token_urlsafe(16)
    profile = load_profile(values["sim_profile"])
    time_scale = values["sim_time_scale"]
    cert = key = None
    if getattr(args, "tls", False):
        from edgeload.sim.tls import cached_certificate

        cert, key = cached_certificate(host)

    from edgeload.sim.serve import Urls
    from edgeload.sim.serve import run as serve_run

    def ready(urls: Urls) -> None:
        url = urls.url
        scale = time_scale if time_scale is not None else profile.time_scale
        print(f"edgeload sim: serving on {url} (time scale {scale:g})", flush=True)
        print(f"edgeload sim: {_summary(profile)}", flush=True)
        print(
            f"edgeload sim: set GROUNDLIGHT_ENDPOINT={url}; any well-formed API token works "
            "(e.g. edgeload.sim.DEMO_TOKEN); Ctrl-C stops",
            flush=True,
        )
        if cert is not None:
            print(
                f"edgeload sim: HTTPS with a self-signed certificate {cert}: give clients "
                f"--ca-bundle {cert} (or EDGELOAD_CA_BUNDLE), or set DISABLE_TLS_VERIFY=1",
                flush=True,
            )
        print(
            f"edgeload sim: Kubernetes API (namespace edge, read-only) on {urls.k8s_url}: "
            f"give scenarios --k8s {urls.k8s_url}",
            flush=True,
        )
        print(f"edgeload sim: simulated Groundlight cloud on {urls.cloud_url}", flush=True)
        if host not in LOOPBACK:
            print(
                f"edgeload sim: listening on {host}: the edge port, the Kubernetes API and "
                "the simulated cloud are reachable from the network (no real data: the "
                "simulator accepts any well-formed token)",
                flush=True,
            )
        if token is not None:
            print(
                "edgeload sim: the admin API (/_sim/) needs the header "
                f"x-edgeload-admin-token: {token}",
                flush=True,
            )

    serve_run(
        profile,
        host=host,
        port=values["port"],
        k8s_port=values["k8s_port"],
        cloud_port=values["cloud_port"],
        time_scale=time_scale,
        admin_token=token,
        on_ready=ready,
        tls_cert=cert,
        tls_key=key,
    )
    print("edgeload sim: stopped", file=sys.stderr)
    return 0
