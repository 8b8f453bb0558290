"""One writer per output: an OS-level lock on each folder a job writes.

A job holds the lock of every folder it writes for as long as it writes there
(`hold`). A second job that would write a held folder stops at once with one line
naming the holder (host, PID, command, start time); the operating system releases
a lock when its process ends however it ends (SIGKILL included), so a lock whose
process is gone never blocks. Locks are taken by process 0 of a multi-host run.
Object stores (gs://) have no locks: there nothing is locked (README, "Reruns and
reproducibility", says what to avoid).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import socket
import sys
from collections.abc import Iterator, Sequence

import filelock
from etils import epath

from drl_jax.errors import UsageError
from drl_jax.workdir.files import read_json, write_json

LOCK, HOLDER = ".drl_jax.lock", ".drl_jax.lock.json"
_held: dict[str, int] = {}  # folder -> nesting depth, in this process


def is_lockable(folder: epath.PathLike) -> bool:
    """Whether `folder` is on a file system with OS locks (not an object store)."""
    return "://" not in os.fspath(folder)


@contextlib.contextmanager
def hold(
    folders: Sequence[epath.PathLike], *, wait_seconds: float = 0.0, enabled: bool = True
) -> Iterator[None]:
    """Holds the lock of every folder (created if needed) for the block.

    Args:
      folders: the folders the block writes.
      wait_seconds: how long to wait for a held lock (0: stop at once).
      enabled: False on the processes of a multi-host run other than process 0.

    Raises:
      UsageError: a folder is held by another job; names the holder.
    """
    stack = contextlib.ExitStack()
    with stack:
        if enabled:
            for folder in dict.fromkeys(str(epath.Path(f)) for f in folders if is_lockable(f)):
                stack.enter_context(_hold_one(epath.Path(folder), wait_seconds))
        yield


@contextlib.contextmanager
def _hold_one(folder: epath.Path, wait_seconds: float) -> Iterator[None]:
    key = str(folder.absolute())
    if _held.get(key):  # this process holds it already (a job calling another's code)
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    folder.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(os.fspath(folder / LOCK))
    try:
        lock.acquire(timeout=wait_seconds)
    except filelock.Timeout:
        raise UsageError(
            f"{folder} is being written by another drl_jax job ({_holder(folder)}); wait for "
            "it to finish or stop it, then rerun (nothing was written)."
        ) from None
    _held[key] = 1
    try:
        write_json(
            folder / HOLDER,
            {
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "command": " ".join(sys.argv),
                "started": datetime.datetime.now().isoformat(timespec="seconds"),
            },
        )
        yield
    finally:
        del _held[key]
        (folder / HOLDER).unlink(missing_ok=True)
        lock.release()


def _holder(folder: epath.Path) -> str:
    try:
        holder = read_json(folder / HOLDER)
        return (
            f"host {holder['host']}, PID {holder['pid']}, since {holder['started']}: "
            f"{holder['command']}"
        )
    except (OSError, UsageError, KeyError, TypeError):
        return "holder not recorded yet"
