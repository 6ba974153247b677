"""Benchmark: provisioning one detector against the embedded simulator, phase by phase.

    uv run python bench/provisioning_demo.py [--profile demo] [--mode BINARY] [--concurrency N]
        [--json PATH]

Starts `SimulatedEndpoint(profile)` (real time, time_scale 1), provisions a new detector as the
throughput test does (create, prime with labelled images, wait for training, wait for the edge)
and prints the time of each phase and the total beside the target. `--concurrency 1` shows the
cost of submitting the priming labels one at a time, in the same run conditions. `--json PATH`
also writes the figures for `bench/run_all.py` (the total has a target on the demo profile only).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import edgeload.provisioning as provisioning
from edgeload.sim import SimulatedEndpoint
from edgeload.target import Target, make_sdk

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _figures import add_json_option, figure, write_figures  # noqa: E402

TARGET_S = 10.0  # demo profile: provisioning before the ramp starts
TARGET_PROFILE = "demo"  # other profiles model real start-up times: figures shown, no target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="demo")
    parser.add_argument("--mode", default="BINARY", choices=provisioning.MODES)
    parser.add_argument("--concurrency", type=int, default=provisioning.PRIMING_CONCURRENCY)
    add_json_option(parser)
    args = parser.parse_args()

    phases: dict[str, float] = {}

    def timed(name: str, fn):
        def wrapper(*a, **k):
            started = time.monotonic()
            try:
                return fn(*a, **k)
            finally:
                phases[name] = phases.get(name, 0.0) + time.monotonic() - started

        return wrapper

    provisioning.PRIMING_CONCURRENCY = args.concurrency
    prime = provisioning.prime_detector
    provisioning.prime_detector = timed(
        "prime (labelled images)",
        lambda *a, **k: prime(*a, **{**k, "concurrency": args.concurrency}),
    )
    provisioning._get_or_create = timed("create detector", provisioning._get_or_create)
    provisioning._train = timed("prime + wait for training", provisioning._train)
    provisioning._wait_for_edge = timed("wait for the edge", provisioning._wait_for_edge)

    with SimulatedEndpoint(args.profile) as sim:
        target = Target(kind="simulated", url=sim.url, token=sim.token, profile=sim.profile)
        gl = make_sdk(target, retries=False)
        started = time.monotonic()
        (det,) = provisioning.provision_detectors(
            gl,
            1,
            mode=args.mode,
            image_size=(640, 480),
            timeout_s=300,
            progress=lambda line: print(f"  [{time.monotonic() - started:5.2f} s] {line}"),
            target=target,
        )
        total = time.monotonic() - started
    print(f"\nprofile {args.profile}, {args.mode}, priming concurrency {args.concurrency}:")
    for name in ("create detector", "prime (labelled images)", "prime + wait for training"):
        print(f"  {name:28s} {phases.get(name, 0.0):6.2f} s")
    training = phases["prime + wait for training"] - phases["prime (labelled images)"]
    print(f"  {'  of which training wait':28s} {training:6.2f} s")
    print(f"  {'wait for the edge':28s} {phases['wait for the edge']:6.2f} s")
    target_note = f"target < {TARGET_S:g} s on {TARGET_PROFILE}; {det.labels} labels"
    print(f"  {'total':28s} {total:6.2f} s   ({target_note})")
    has_target = args.profile == TARGET_PROFILE
    write_figures(
        args.json,
        "provisioning_demo",
        [
            figure(
                f"provisioning one detector ({args.profile} profile)",
                total,
                "s",
                f"< {TARGET_S:g} s" if has_target else None,
                total < TARGET_S,
            ),
            figure("create detector", phases.get("create detector", 0.0), "s"),
            figure("prime (labelled images)", phases.get("prime (labelled images)", 0.0), "s"),
            figure("wait for training", training, "s"),
            figure("wait for the edge", phases["wait for the edge"], "s"),
            figure("priming labels", det.labels, "count"),
        ],
        notes=[f"{args.mode}, priming concurrency {args.concurrency}, time_scale 1"],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
