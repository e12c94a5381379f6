"""One error hierarchy; the CLI maps each class to an exit status.

Messages name the file, the variable and, where there is one, the remedy, because the
message is all a user sees: the CLI prints it as one line, without a traceback.
"""

from __future__ import annotations


class GraphdiffError(Exception):
    """Base of every error graphdiff raises on purpose."""

    exit_status = 1


class BadInput(GraphdiffError):
    """A file or an argument cannot be used as given (exit status 2)."""

    exit_status = 2

    def __init__(self, path: object, fault: str):
        self.path = str(path) if path is not None else None
        self.fault = fault
        super().__init__(f"{self.path}: {fault}" if self.path else fault)


class PolicyViolation(GraphdiffError):
    """A policy asked for on the command line failed, e.g. --require (exit status 3)."""

    exit_status = 3

    def __init__(self, message: str, offenders: list[str]):
        self.offenders = list(offenders)
        super().__init__(message)


class VerificationFailed(GraphdiffError):
    """`apply --verify` read back something other than what it meant to write (exit status 3).

    Nothing is published: the checkpoint stays in staging, which is removed.
    """

    exit_status = 3
