"""Errors that end a command with a one-line message instead of a traceback."""


class UsageError(Exception):
    """A user mistake (bad option, bad file, unreachable endpoint): printed as one line, exit 2."""

    exit_code = 2


class RunFailed(Exception):
    """A run that started but could not produce a valid result (exit 1)."""

    exit_code = 1
