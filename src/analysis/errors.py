"""Errors a user can act on. The CLI prints them as one line and exits with their code (no traceback)."""

from __future__ import annotations

import errno

# Exit codes (documented in README "Exit codes"):
EXIT_OK = 0
EXIT_FAILURE = 1  # unexpected internal error (a bug): traceback is printed
EXIT_USAGE = 2  # bad command line or configuration
EXIT_INPUT = 3  # input file missing, unreadable or empty
EXIT_SOURCE = 4  # database unreachable, credentials refused, tables missing
EXIT_TARGET = 5  # quality targets missed (evaluate) or output could not be written
EXIT_LOCKED = 6  # another run holds the data or output lock (with --no-wait)


class UserError(Exception):
    """A problem the user can fix; `str(error)` is the whole message."""

    exit_code = EXIT_FAILURE


class ConfigError(UserError):
    exit_code = EXIT_USAGE


class InputError(UserError):
    exit_code = EXIT_INPUT


class SourceError(UserError):
    exit_code = EXIT_SOURCE


class TargetError(UserError):
    exit_code = EXIT_TARGET


class LockedError(UserError):
    """Another run is writing the same snapshot or outputs (only raised with --no-wait)."""

    exit_code = EXIT_LOCKED


def os_reason(exc: OSError) -> str:
    """Plain words for a file-system fault: disk full, read-only, permission denied, else the OS's."""
    return {
        errno.ENOSPC: "the disk is full (No space left on device)",
        errno.EROFS: "the file system is read-only",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
    }.get(exc.errno or 0, exc.strerror or type(exc).__name__)
