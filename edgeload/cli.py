"""The `edgeload` console command: a thin dispatcher over one module per subcommand.

A scenario's command is its folder's `command.py` (named by the registry in
`edgeload.scenarios`); the others live in `edgeload/commands/`. Each exposes `HELP: str`,
`add_arguments(parser)` and `run(args) -> int`, and imports what it needs inside `run`, so
that `edgeload sim` never pays for locust or pandas, and `edgeload report` never imports
gevent. An EdgeloadError ends the command with one line and its exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from typing import NoReturn

from edgeload.errors import EdgeloadError
from edgeload.scenarios import SCENARIOS

# subcommand name -> module, in the order --help shows them: the scenarios (from their
# registry), then the commands that work on run folders, then the simulator
SUBCOMMANDS: dict[str, str] = {
    **{name: s.command_module for name, s in SCENARIOS.items()},
    "report": "edgeload.commands.report",
    "compare": "edgeload.commands.compare",
    "history": "edgeload.commands.history",
    "sim": "edgeload.commands.sim",
}


def _available() -> dict[str, object]:
    modules = {}
    for name, module_name in SUBCOMMANDS.items():
        try:
            modules[name] = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
    return modules


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgeload",
        description="Load tests for the Groundlight Edge Endpoint (Locust-based), "
        "with an embedded simulated edge endpoint.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, module in _available().items():
        p = sub.add_parser(
            name, help=module.HELP, description=module.HELP, formatter_class=_HelpFormatter
        )
        module.add_arguments(p)
        p.add_argument(
            "--config",
            metavar="FILE",
            default=None,
            help="read options from FILE (`key = value` lines, as Locust's locust.conf; the "
            "command line wins)",
        )
        p.set_defaults(_run=module.run)
        p.error = _one_line_error(p)  # type: ignore[method-assign]
    parser.error = _one_line_error(parser)  # type: ignore[method-assign]
    return parser


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default where it has one (options of edgeload.options say their own)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or "(default:" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def _one_line_error(parser: argparse.ArgumentParser) -> Callable[[str], NoReturn]:
    """argparse's error, as one line without the usage dump (bad input gets one line)."""

    def error(message: str) -> NoReturn:
        parser.exit(2, f"{parser.prog}: error: {message} (see {parser.prog} --help)\n")

    return error


def main(argv: list[str] | None = None) -> int:
    # Progress lines must reach a pipe (`| tee run.txt`, a CI log) as they happen, not at exit.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(line_buffering=True)
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough: list[str] = []
    if "--" in argv:  # what follows `--` belongs to the tool underneath (Locust)
        cut = argv.index("--")
        argv, passthrough = argv[:cut], argv[cut + 1 :]
    args = parser.parse_args(argv)
    if getattr(args, "config", None):
        try:
            argv, passthrough = _with_config(parser, args, argv, passthrough)
        except EdgeloadError as exc:
            print(f"edgeload {args.command}: error: {exc}", file=sys.stderr)
            return exc.exit_code
        args = parser.parse_args(argv)
    if passthrough:
        module = importlib.import_module(SUBCOMMANDS[args.command])
        if not getattr(module, "ACCEPTS_LOCUST_ARGS", False):
            parser.exit(2, f"edgeload {args.command}: error: it takes no arguments after `--`\n")
        args.locust_args = passthrough
    try:
        code = args._run(args)
    except EdgeloadError as exc:
        print(f"edgeload {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"edgeload {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`| head`): nothing more to say
        _silence_stdout()
        return 1
    return int(code or 0)


def _with_config(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    argv: list[str],
    passthrough: list[str],
) -> tuple[list[str], list[str]]:
    """argv with the config file's options first (so the command line wins), and Locust's."""
    from edgeload.configfile import config_argv

    module = importlib.import_module(SUBCOMMANDS[args.command])
    subparser = _subparser(parser, args.command)
    known = {
        flag: action.nargs != 0
        for action in subparser._actions  # noqa: SLF001 - argparse keeps no public list
        for flag in action.option_strings
    }
    ours, theirs = config_argv(
        args.config, known, pass_unknown=getattr(module, "ACCEPTS_LOCUST_ARGS", False)
    )
    command = argv.index(args.command)
    return argv[: command + 1] + ours + argv[command + 1 :], theirs + passthrough


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    for action in parser._actions:  # noqa: SLF001
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            return action.choices[name]
    raise KeyError(name)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    import os

    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
