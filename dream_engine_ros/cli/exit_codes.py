"""Exit codes of `dream-engine` and the error that carries one, defined once for every subcommand.

0 ok, 1 anything else (a failure, a regression found by `gate`, a missing extra), 2 bad input (one
line on stderr naming field, value and rule), 3 weights missing or unreadable, 4 I/O error.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_WEIGHTS = 3
EXIT_IO = 4


class CliError(Exception):
    """A one-line error for stderr (``error: <message>``) and the exit code it ends the run with."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code
