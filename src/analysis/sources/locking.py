"""One writer at a time: advisory `fcntl.flock` locks on the data directory and on the output folders.

Writers (import, acquire, build's snapshot step; render and build writing `_site/` and `_build/`) hold an
exclusive lock; readers of the snapshot (analyze, evaluate, render, build computing the report) hold a
shared one, so they see either the old or the new snapshot, never a mix. A run that finds the lock taken
waits and says so ("waiting for another run holding LOCKPATH (pid N)..."), or with `wait=False`
(`--no-wait`) fails at once with LockedError (exit code 6).

The lock file lives beside the folder it guards (`data/.snapshot.lock`, `.{_site}.lock`), because the
folder itself is replaced by renames. The kernel drops a lock when its holder dies, so a crashed run
never leaves a stale lock behind; the pid written into the file only names the holder in messages.
Locks are re-entrant within one thread (build's snapshot step inside a locked build does not deadlock).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from analysis.errors import LockedError, TargetError

_held = threading.local()  # per thread: lock path -> [file descriptor, exclusive?, depth]


def lock_path(folder: Path) -> Path:
    """The lock file guarding `folder` (beside it: the folder itself is swapped by renames)."""
    folder = Path(folder)
    return folder.with_name(f".{folder.name}.lock")


def _key(path: Path) -> str:
    return os.path.abspath(path)


def _holder(path: Path) -> str:
    try:
        pid = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""


@contextlib.contextmanager
def locked(
    folder: Path, *, exclusive: bool = True, wait: bool = True, quiet: bool = False
) -> Iterator[Path]:
    """Hold the lock of `folder` for the duration of the block; yields the lock file's path."""
    path = lock_path(folder)
    held: dict[str, list] = _held.__dict__.setdefault("locks", {})
    key = _key(path)
    if key in held:
        entry = held[key]
        if exclusive and not entry[1]:
            raise RuntimeError(f"{path}: cannot upgrade a shared lock to an exclusive one")
        entry[2] += 1
        try:
            yield path
        finally:
            entry[2] -= 1
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        if exclusive:
            raise TargetError(f"cannot create the lock file {path}: {exc.strerror}") from exc
        # A reader of a read-only data directory: lock the file if it exists; if it cannot even
        # be created, no writer can swap the snapshot there either, so there is nothing to guard.
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            yield path
            return
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    try:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(path)
            if not wait:
                raise LockedError(
                    f"another run holds {path}{holder}; try again when it has finished "
                    "(or leave out --no-wait to wait for it)"
                ) from None
            if not quiet:
                print(f"waiting for another run holding {path}{holder}…", file=sys.stderr)
            fcntl.flock(fd, mode)
        if exclusive:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        held[key] = [fd, exclusive, 1]
        try:
            yield path
        finally:
            del held[key]
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def holds(folder: Path) -> bool | None:
    """Whether this thread holds the lock of `folder`: True exclusive, False shared, None not at all."""
    path = lock_path(folder)
    entry = _held.__dict__.get("locks", {}).get(_key(path))
    return None if entry is None else bool(entry[1])


def repair_swap(target: Path, old: Path) -> bool:
    """A run killed between the two renames of a swap leaves `old` and no `target`: put `old` back.
    Call with the lock held. True when something was repaired."""
    target, old = Path(target), Path(old)
    if target.exists() or not old.is_dir():
        return False
    old.rename(target)
    print(
        f"note: restored {target} from {old.name} (a previous run was interrupted)", file=sys.stderr
    )
    return True
