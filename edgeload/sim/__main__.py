"""`python -m edgeload.sim`: the simulator process that `SimulatedEndpoint` starts.

Prints one line `EDGELOAD_SIM_READY <url> <k8s_url> <cloud_url>` on stdout once it listens (the
parent reads the ports from it), nothing else on stdout. A bad profile or a port in use: one
line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from edgeload.errors import UsageError

READY_PREFIX = "EDGELOAD_SIM_READY "
ADMIN_TOKEN_VARIABLE = "EDGELOAD_SIM_ADMIN_TOKEN"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edgeload.sim")
    parser.add_argument("--profile", default="gpu-1x")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--k8s-port", type=int, default=0)
    parser.add_argument("--cloud-port", type=int, default=0)
    parser.add_argument("--time-scale", type=float, default=None)
    parser.add_argument("--overrides", default=None, help="JSON object of profile overrides")
    parser.add_argument("--exit-on-stdin-eof", action="store_true")
    parser.add_argument("--tls-cert", default=None, help="serve HTTPS with this certificate")
    parser.add_argument("--tls-key", default=None, help="the certificate's private key")
    args = parser.parse_args(argv)
    try:
        from edgeload.sim.serve import Urls, build_profile, run

        overrides = json.loads(args.overrides) if args.overrides else None
        if overrides is not None and not isinstance(overrides, dict):
            raise UsageError("--overrides must be a JSON object")
        profile = build_profile(args.profile, overrides)

        def ready(urls: Urls) -> None:
            sys.stdout.write(f"{READY_PREFIX}{urls.url} {urls.k8s_url} {urls.cloud_url}\n")
            sys.stdout.flush()

        run(
            profile,
            host=args.host,
            port=args.port,
            k8s_port=args.k8s_port,
            cloud_port=args.cloud_port,
            time_scale=args.time_scale,
            on_ready=ready,
            exit_on_stdin_eof=args.exit_on_stdin_eof,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            # from the environment, not argv: a token on a command line shows in `ps`
            admin_token=os.environ.get(ADMIN_TOKEN_VARIABLE) or None,
        )
    except UsageError as exc:
        print(f"edgeload sim: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except json.JSONDecodeError as exc:
        print(f"edgeload sim: error: --overrides is not valid JSON: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
