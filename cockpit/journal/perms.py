"""File and directory modes for the state directory (sshd ``StrictModes`` style).

* personal mode (default): directories 0700, files 0600;
* shared mode (several engineers, one group-owned setgid+sticky state root that an
  admin creates once): directories 3770 (setgid, sticky, no "other" bits), files 0640.

We refuse to write into a directory that others can write to, that is a symlink,
or (shared mode) that is group-writable without the sticky bit (a colleague could
then rename or delete our journal).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

PERSONAL = "personal"
SHARED = "shared"
MODES = (PERSONAL, SHARED)


class UnsafeStateDir(PermissionError):
    """The state directory (or a directory below it) has unsafe permissions."""


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be 'personal' or 'shared', not {mode!r}")
    return mode


def file_mode(mode: str) -> int:
    return 0o640 if check_mode(mode) == SHARED else 0o600


def dir_mode(mode: str) -> int:
    return 0o3770 if check_mode(mode) == SHARED else 0o700


def check_dir(path: Path, mode: str = PERSONAL, *, root: bool = True) -> None:
    """Raise UnsafeStateDir when ``path`` is not a safe directory to write into.

    The state root must belong to root or to us. Below it, in shared mode, directories
    created by colleagues are fine (group + sticky bit protect each one's files).
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise UnsafeStateDir(f"{path}: does not exist") from None
    if stat.S_ISLNK(st.st_mode):
        raise UnsafeStateDir(f"{path}: is a symlink; refusing to write through it")
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeStateDir(f"{path}: is not a directory")
    if st.st_mode & stat.S_IWOTH:
        raise UnsafeStateDir(
            f"{path}: writable by others (mode {stat.S_IMODE(st.st_mode):04o}); "
            f"refusing to write there (fix with: chmod o-w {path})"
        )
    if st.st_uid not in (0, os.geteuid()) and (root or mode != SHARED):
        raise UnsafeStateDir(f"{path}: owned by uid {st.st_uid}, not by root or by us")
    if mode == SHARED and st.st_mode & stat.S_IWGRP and not st.st_mode & stat.S_ISVTX:
        raise UnsafeStateDir(
            f"{path}: group-writable without the sticky bit (mode "
            f"{stat.S_IMODE(st.st_mode):04o}); others could delete journals (chmod +t {path})"
        )


def ensure_dir(path: Path, mode: str = PERSONAL) -> Path:
    """Create ``path`` (one level) with the mode's directory bits, or check an existing one."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        check_dir(path, mode, root=False)
        return path
    os.chmod(path, dir_mode(mode), follow_symlinks=False)  # mkdir's mode is masked by umask
    return path


NETWORK_FS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "ceph", "glusterfs", "lustre", "afs",
    "fuse.sshfs", "fuse.s3fs", "fuse.gcsfuse", "fuse.glusterfs", "fuse.cephfs", "davfs",
})
ALLOW_NETWORK_FS = "COCKPIT_ALLOW_NETWORK_FS"


def _unescape_mount(field: str) -> str:
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def filesystem_type(path: Path, mountinfo: str | None = None) -> str | None:
    """The type of the filesystem ``path`` lives on, from /proc/self/mountinfo (None: unknown)."""
    try:
        text = mountinfo if mountinfo is not None else Path("/proc/self/mountinfo").read_text()
        real = os.path.realpath(path)
    except OSError:
        return None
    best, best_len = None, -1
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        fields = left.split()
        if not sep or len(fields) < 5:
            continue
        mount_point = _unescape_mount(fields[4])
        inside = real == mount_point or real.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) > best_len:
            best, best_len = right.split()[0] if right.split() else None, len(mount_point)
    return best


def check_local_fs(path: Path, mountinfo: str | None = None,
                   env: Mapping[str, str] | None = None) -> None:
    """Several writers on a network filesystem: refused (flock and fsync do not mean there what
    the journal relies on), unless $COCKPIT_ALLOW_NETWORK_FS=1 says the admin knows."""
    environ: Mapping[str, str] = os.environ if env is None else env
    fstype = filesystem_type(path, mountinfo)
    if fstype in NETWORK_FS and environ.get(ALLOW_NETWORK_FS, "") not in ("1", "yes", "true"):
        raise UnsafeStateDir(
            f"{path}: on a network filesystem ({fstype}); several writers there are refused "
            f"(locks and fsync are not reliable). Use a local disk, or set {ALLOW_NETWORK_FS}=1 "
            "to accept the risk")


def ensure_tree(root: Path, parts: list[str], mode: str = PERSONAL) -> Path:
    """Check (or create, personal mode) ``root`` and create ``root/parts...`` safely."""
    if not os.path.lexists(root):
        if mode == SHARED:
            raise UnsafeStateDir(
                f"{root}: shared state directory does not exist; an admin creates it once "
                f"(see README: install -d -m 3770 -g oncall {root})"
            )
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(root, 0o700)
    check_dir(root, mode)
    if mode == SHARED:
        check_local_fs(root)
    path = root
    for part in parts:
        path = ensure_dir(path / part, mode)
    return path


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
