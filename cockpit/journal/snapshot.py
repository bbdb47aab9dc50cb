"""Atomic file replacement: temp file in the same directory, fsync, rename, fsync dir.

A reader of the target always sees the old or the new content, never an empty
or partial file, even on kill -9 or power loss. Temp files left by a killed writer
(``<name>.<pid>.<rand>.tmp``) are removed by the next write once their pid is gone
(a snapshot is a derived cache; journals are never handled this way).
"""

from __future__ import annotations

import os
import secrets
import stat
import tomllib
from pathlib import Path
from typing import Any

from .perms import fsync_dir
from .record import dumps_document

SNAPSHOT_HEADER = "# cockpit snapshot: derived from the journals; safe to delete.\n"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clean_leftovers(path: Path) -> None:
    prefix = path.name + "."
    try:
        names = os.listdir(path.parent)
    except OSError:
        return
    for n in names:
        if not (n.startswith(prefix) and n.endswith(".tmp")):
            continue
        parts = n[len(prefix):-4].split(".")
        if len(parts) != 2 or not parts[0].isdigit():
            continue
        pid = int(parts[0])
        if pid != os.getpid() and not _pid_alive(pid):
            try:
                os.unlink(path.parent / n)
            except OSError:
                pass


def write_bytes_atomic(path: Path, data: bytes, *, mode: int | None = None) -> None:
    path = Path(path)
    parent = path.parent
    if mode is None:
        try:
            mode = 0o640 if os.stat(parent).st_mode & stat.S_IRWXG else 0o600
        except OSError:
            mode = 0o600
    _clean_leftovers(path)
    tmp = parent / f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        try:
            os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(parent)


def write_snapshot(path: Path, data: dict[str, Any], *, mode: int | None = None) -> None:
    """Atomically replace ``path`` with ``data`` as a cat-safe TOML document."""
    text = SNAPSHOT_HEADER + dumps_document(data)
    write_bytes_atomic(Path(path), text.encode("utf-8"), mode=mode)


def read_snapshot(path: Path) -> dict[str, Any] | None:
    """The snapshot, or None when it is missing or unreadable (rebuild it from the journals)."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
