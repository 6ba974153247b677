"""`edgeload throughput MODE`: the multiple-client throughput test, headless.

The original command line, run as `locust -f locustfiles/throughput.py --headless ...` in a
child process (the same locustfile the web UI and distributed runs use). Options are checked
here first, so a mistake costs no start-up; the child's exit code is returned.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from edgeload import options as opt
from edgeload.errors import UsageError
from edgeload.processes import terminate_with_parent
from edgeload.resources import locustfile
from edgeload.runfolder import check_output_dir
from edgeload.scenarios.throughput.options import OPTIONS, validate_inputs

HELP = "Multiple-client throughput test: ramp clients up step by step (Locust, headless)."
LOCUSTFILE = locustfile("throughput")


ACCEPTS_LOCUST_ARGS = True  # everything after `--` goes to Locust (edgeload.cli)
MAX_PROCESSES_PER_CPU = 4  # more load processes than this per core only fight for the CPU


def add_arguments(parser: argparse.ArgumentParser) -> None:
    opt.add_arguments(parser, OPTIONS, positionals=(opt.DETECTOR_MODE,))
    parser.add_argument(
        "--processes",
        type=int,
        default=None,
        help="load processes on this machine (Locust --processes; -1: one per CPU; default: "
        f"one; at most {MAX_PROCESSES_PER_CPU} per CPU)",
    )
    parser.add_argument(
        "--locust-stats",
        action="store_true",
        help="also print Locust's own periodic and final stats tables and log lines (by "
        "default only edgeload's step lines and exact summary are printed)",
    )


def locust_command(args: argparse.Namespace, locustfile: Path = LOCUSTFILE) -> list[str]:
    """The locust command line: the options the user gave (validated, spelled out; the rest
    Locust takes from locust.conf, LOCUST_* variables or our defaults), then `-- ...`."""
    command = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless"]
    values = opt.parse_options(args, OPTIONS)
    given = {
        dest: value
        for dest, value in values.items()
        if getattr(args, dest, None) is not None
        or getattr(args, f"_positional_{dest}", None) is not None
    }
    command += opt.to_command_line(given, OPTIONS)
    if args.processes:
        # a port of its own: another run on this machine neither collides nor gets our workers
        port = str(free_port())
        command += ["--processes", str(args.processes), "--master-bind-port", port]
        command += ["--master-port", port]
    if not args.locust_stats:
        # edgeload prints its own lines and exact summary; Locust's approximated tables and
        # log lines would bury them (see ThroughputRun.quiet_locust)
        command += ["--only-summary", "--loglevel", "WARNING"]
    return command + list(getattr(args, "locust_args", []) or [])


def run(args: argparse.Namespace) -> int:
    inputs = validate_inputs(args)
    from edgeload.target import check_target

    # the target's problems in one line here, before Locust starts and prints its own lines
    check_target(sim_profile=inputs.sim_profile, ca_bundle=inputs.ca_bundle)
    # after the target's checks (a refused target leaves nothing behind), before anything starts
    check_output_dir(inputs.output_dir)
    check_processes(args.processes)
    check_master_port(list(getattr(args, "locust_args", []) or []))
    if not LOCUSTFILE.is_file():
        raise UsageError(f"the throughput locustfile is missing: {LOCUSTFILE}")
    # The child runs in a session of its own, so a terminal's Ctrl-C reaches it once, through
    # us, like a SIGTERM sent to us; it gets a SIGTERM too should we die without passing one on.
    received: list[int] = []
    child: subprocess.Popen | None = None

    def forward(signum: int, _frame: object) -> None:
        received.append(signum)
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        child = subprocess.Popen(
            locust_command(args),
            env=os.environ.copy(),
            start_new_session=True,
            preexec_fn=terminate_with_parent,
        )
        if received and child.poll() is None:  # a signal came while the child was starting
            child.send_signal(received[0])
        while True:
            try:
                code = child.wait()
            except KeyboardInterrupt:  # pragma: no cover - the handler above replaces it
                continue
            return 128 - code if code < 0 else code  # killed by a signal: the shell's code
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def free_port() -> int:
    """A TCP port on this machine that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def check_master_port(locust_args: list[str]) -> None:
    """With `-- --master`, a one-line error when the master's port is taken (Locust itself
    would die with a ZMQ traceback)."""
    if "--master" not in locust_args:
        return
    port = 5557
    for flag in ("--master-bind-port",):
        if flag in locust_args and locust_args.index(flag) + 1 < len(locust_args):
            try:
                port = int(locust_args[locust_args.index(flag) + 1])
            except ValueError:
                return  # Locust says what is wrong with it
    with socket.socket() as probe:
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            raise UsageError(
                f"the master port {port} is taken (another run on this machine?): give "
                "another with -- --master --master-bind-port PORT, and --master-port PORT on "
                "the workers"
            ) from None


def check_processes(processes: int | None) -> None:
    """UsageError for a --processes this machine cannot use."""
    if processes is None or processes == -1:
        return
    limit = MAX_PROCESSES_PER_CPU * (os.cpu_count() or 1)
    if processes < 1:
        raise UsageError(f"--processes must be at least 1 (or -1: one per CPU), got {processes}")
    if processes > limit:
        raise UsageError(
            f"--processes {processes} is more than this machine's {os.cpu_count()} CPUs can "
            f"run (at most {limit}): use more machines (--master and --worker) for more load"
        )
