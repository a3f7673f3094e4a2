"""Exit codes of the command line, one table for every command (documented in the README).

0 done · 1 refused: the request was understood and refused, nothing changed (invalid or
conflicting; an import refused with its report) · 2 bad usage (options; Typer's own) · 3 could
not run (unreadable file, database set-up, broken audit chain) · 4 not found · 5 forbidden
(also: not signed in, sign-in throttled).
"""

from __future__ import annotations

from registry.errors import Category, RegistryError

__all__ = [
    "EXIT_CODES",
    "EXIT_FAILED",
    "EXIT_FORBIDDEN",
    "EXIT_NOT_FOUND",
    "EXIT_REFUSED",
    "EXIT_USAGE",
    "exit_code",
]

EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_FAILED = 3
EXIT_NOT_FOUND = 4
EXIT_FORBIDDEN = 5
EXIT_CODES: dict[Category, int] = {
    Category.INVALID: EXIT_REFUSED,
    Category.CONFLICT: EXIT_REFUSED,
    Category.FAILURE: EXIT_FAILED,
    Category.NOT_FOUND: EXIT_NOT_FOUND,
    Category.FORBIDDEN: EXIT_FORBIDDEN,
    Category.UNAUTHENTICATED: EXIT_FORBIDDEN,
    Category.THROTTLED: EXIT_FORBIDDEN,
}


def exit_code(exc: RegistryError) -> int:
    """The exit code for a registry error, by its category."""
    return EXIT_CODES[exc.category]
