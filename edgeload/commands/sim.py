"""`edgeload sim`: run the simulated edge endpoint in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import sys

from edgeload.errors import UsageError

HELP = "Run a simulated Groundlight Edge Endpoint (real HTTP server speaking the real protocol)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile",
        default="gpu-1x",
        metavar="NAME|PATH",
        help="simulator profile: a name from configs/profiles/ or a YAML file",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--port", type=int, default=30101, help="port to listen on (0: any free port)"
    )
    parser.add_argument(
        "--k8s-port",
        type=int,
        default=0,
        help="port of the simulated Kubernetes API server, apart from the edge port as on a "
        "real box (default 0: any free port; the address is printed)",
    )
    parser.add_argument(
        "--cloud-port",
        type=int,
        default=0,
        help="port of the simulated Groundlight cloud the box escalates and falls back to "
        "(default 0: any free port; the address is printed)",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=None,
        metavar="X",
        help="simulated seconds per real second (default: the profile's time_scale)",
    )
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
    for option in ("port", "k8s_port", "cloud_port"):
        value = getattr(args, option)
        if not 0 <= value <= 65535:
            name = "--" + option.replace("_", "-")
            raise UsageError(f"{name} must be between 0 and 65535, got {value}")
    if args.time_scale is not None and not args.time_scale > 0:
        raise UsageError(f"--time-scale must be > 0, got {args.time_scale}")
    profile = load_profile(args.profile)
    cert = key = None
    if getattr(args, "tls", False):
        from edgeload.sim.tls import cached_certificate

        cert, key = cached_certificate(args.host)

    from edgeload.sim.serve import Urls
    from edgeload.sim.serve import run as serve_run

    def ready(urls: Urls) -> None:
        url = urls.url
        scale = args.time_scale if args.time_scale is not None else profile.time_scale
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

    serve_run(
        profile,
        host=args.host,
        port=args.port,
        k8s_port=args.k8s_port,
        cloud_port=args.cloud_port,
        time_scale=args.time_scale,
        on_ready=ready,
        tls_cert=cert,
        tls_key=key,
    )
    print("edgeload sim: stopped", file=sys.stderr)
    return 0
