"""The reporter's one error type."""


class ReportError(Exception):
    """A log or results file the reporter cannot use; the message is one line saying why."""
