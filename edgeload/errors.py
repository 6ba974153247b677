"""The one exception family: every error a user should read is one line and an exit code.

    EdgeloadError            base: `str(exc)` is one line saying what happened and what to fix
      UsageError             bad input (option, file, endpoint settings): nothing ran, exit 2
      RunError               the run could not be carried out (provisioning, the endpoint
                             failed before any load): exit 5
      ResultsError           a log or results file that cannot be read: exit 2
      OutputError            a file could not be written (disk full, read-only): exit 6

The exit codes are the table in `edgeload.verdict`.
"""

from __future__ import annotations

from edgeload.verdict import EXIT_OUTPUT_ERROR, EXIT_RUN_ERROR, EXIT_USAGE


class EdgeloadError(Exception):
    """An error with a one-line message for the person running edgeload."""

    exit_code = 1


class UsageError(EdgeloadError):
    """A user mistake (bad option, bad file, unusable endpoint settings): exit 2."""

    exit_code = EXIT_USAGE


class RunError(EdgeloadError):
    """A run that started but could not be carried out (e.g. provisioning failed): exit 5."""

    exit_code = EXIT_RUN_ERROR


class ResultsError(EdgeloadError):
    """A log or results file this edgeload cannot read (version, format, content): exit 2."""

    exit_code = EXIT_USAGE


class OutputError(EdgeloadError):
    """A file of the run folder could not be written: exit 6. The message names the file."""

    exit_code = EXIT_OUTPUT_ERROR
