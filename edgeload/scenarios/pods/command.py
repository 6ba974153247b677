"""The command of a pod scenario: its options module gives OPTIONS and validate_inputs, and the
shared runner does the rest. `memory_pressure/command.py` and `rollouts/command.py` are one
call of `pod_command` each."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from typing import NamedTuple


class PodCommand(NamedTuple):
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def pod_command(options_module: str) -> PodCommand:
    """`add_arguments` and `run` for the scenario whose options live in `options_module`
    (imported only when the command is used, so `edgeload --help` stays fast)."""

    def add_arguments(parser: argparse.ArgumentParser) -> None:
        from edgeload.scenarios.pods.options import add_arguments as add_pod_arguments

        add_pod_arguments(parser, importlib.import_module(options_module).OPTIONS)

    def run(args: argparse.Namespace) -> int:
        from edgeload.scenarios.pods.runner import run_scenario

        return run_scenario(importlib.import_module(options_module).validate_inputs(args))

    return PodCommand(add_arguments, run)
