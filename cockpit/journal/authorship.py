"""Who wrote a journal file: the operating-system account of the writing process.

The author of every entry is the account of the process that wrote it: the name of its
real uid, or, only when the real uid is root, ``SUDO_USER`` (an engineer who ran the
cockpit through ``sudo``). ``$USER`` and ``$LOGNAME`` are never read: anyone can set them.

Each writer file starts with a ``session-start`` record naming its writer (``user``,
``uid``, ``euid``). In a shared state directory (group bits on the journal directory)
anyone of the group can create files, so a reader checks that each file is owned by the
uid its session-start names, that this uid's account is the user it names (root may name
the engineer it runs for), and that every entry of the file is by that user. A mismatch is
flagged (the cockpit's banner, ``cockpit verify``); the entries are still shown.
"""

from __future__ import annotations

import os
import pwd
import re
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..text import one_line
from .model import UNREADABLE

_ACCOUNT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}\$?\Z")


def account_name(uid: int) -> str | None:
    try:
        return pwd.getpwuid(uid).pw_name
    except (KeyError, OverflowError, ValueError):
        return None


def process_account() -> str:
    """The account of this process: its real uid's name; ``SUDO_USER`` only when the real
    uid is root (and it names an existing account)."""
    uid = os.getuid()
    if uid == 0:
        sudo = os.environ.get("SUDO_USER", "")
        if sudo and _ACCOUNT.match(sudo):
            try:
                pwd.getpwnam(sudo)
                return sudo
            except KeyError:
                pass
    return account_name(uid) or f"uid{uid}"


def shared_dir(path: Path) -> bool:
    """A directory others (the group) may write to: the owner check applies."""
    try:
        return bool(os.stat(path).st_mode & (stat.S_IWGRP | stat.S_IWOTH))
    except OSError:
        return False


def _who(uid: Any) -> str:
    name = account_name(uid) if isinstance(uid, int) else None
    return f"uid {one_line(uid, 20)}" + (f" ({name})" if name else "")


def owner_problem(path: Path, owner: int, entries: Sequence[Any],
                  start: Any = None) -> str | None:
    """Why the entries of ``path`` (owned by ``owner``) are not proven to be by who they
    say, or None. ``start``: the file's session-start entry when it was read before
    (``entries`` are then later entries of the file)."""
    name = path.name
    if start is None:
        if not entries:
            return None
        start = entries[0]
        entries = entries[1:]
        if start.seq != 1 or start.kind != "session-start":
            return (f"{name} (owned by {_who(owner)}) has no readable session-start record "
                    "naming its writer")
    d = start.data or {}
    uid = d.get("euid", d.get("uid"))
    user = d.get("user")
    if uid != owner:
        return (f"{name} is owned by {_who(owner)} but its session-start names "
                f"{_who(uid)}: who wrote its entries is not proven")
    real = account_name(owner)
    if owner != 0 and real is not None and user != real:
        return (f"{name}: its session-start names user {one_line(repr(user), 60)} but "
                f"{_who(owner)} owns the file")
    for e in entries:
        if e.kind != UNREADABLE and e.author != user:
            return (f"{name} seq {e.seq}: author {one_line(repr(e.author), 60)} is not the "
                    f"file's writer {one_line(repr(user), 60)}")
    return None
