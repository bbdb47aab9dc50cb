"""Modes: files 0600/0640, directories without "other" bits, refusal of unsafe dirs (S2)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cockpit.journal import Journal, UnsafeStateDir, write_snapshot


def mode(p) -> int:
    return stat.S_IMODE(os.lstat(p).st_mode)


def _all(state):
    for root, dirs, files in os.walk(state):
        for d in dirs:
            yield os.path.join(root, d), True
        for f in files:
            yield os.path.join(root, f), False


def test_personal_mode_files_0600_dirs_0700(state_dir):
    old = os.umask(0)  # even with a careless umask
    try:
        with Journal(state_dir, "p") as j:
            j.append("note", {"t": 1})
            j.save_output(b"x")
        write_snapshot(state_dir / "incidents" / "p" / "snapshot.toml", {"a": 1})
    finally:
        os.umask(old)
    assert mode(state_dir) == 0o700
    seen = 0
    for path, is_dir in _all(state_dir):
        seen += 1
        assert mode(path) == (0o700 if is_dir else 0o600), path
    assert seen >= 7


def test_shared_mode_files_0640_dirs_without_other_bits(state_dir):
    state_dir.mkdir()
    os.chmod(state_dir, 0o3770)
    with Journal(state_dir, "s", mode="shared") as j:
        j.append("note", {"t": 1})
        jpath = j.path
    write_snapshot(state_dir / "incidents" / "s" / "snapshot.toml", {"a": 1})
    assert mode(jpath) == 0o640
    for path, is_dir in _all(state_dir):
        m = mode(path)
        assert not m & 0o007, (path, oct(m))
        if is_dir:
            assert m == 0o3770, (path, oct(m))
        else:
            assert m == 0o640, (path, oct(m))


@pytest.mark.parametrize("bad_mode", [0o777, 0o1777, 0o722, 0o702])
def test_refuses_other_writable_state_dir(state_dir, bad_mode):
    state_dir.mkdir()
    os.chmod(state_dir, bad_mode)
    with pytest.raises(UnsafeStateDir, match="writable by others"):
        Journal(state_dir, "x")
    assert not (state_dir / "incidents").exists()


def test_refuses_other_writable_incident_dir(state_dir):
    Journal(state_dir, "x").close()
    os.chmod(state_dir / "incidents" / "x", 0o777)
    with pytest.raises(UnsafeStateDir):
        Journal(state_dir, "x")


def test_refuses_symlinked_dirs(state_dir, tmp_path):
    Journal(state_dir, "x").close()
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    os.symlink(target, state_dir / "incidents" / "y")
    with pytest.raises(UnsafeStateDir, match="symlink"):
        Journal(state_dir, "y")


def test_shared_mode_needs_sticky_when_group_writable(state_dir):
    state_dir.mkdir()
    os.chmod(state_dir, 0o2770)
    with pytest.raises(UnsafeStateDir, match="sticky"):
        Journal(state_dir, "x", mode="shared")


def test_shared_state_root_must_exist(state_dir):
    with pytest.raises(UnsafeStateDir, match="does not exist"):
        Journal(state_dir, "x", mode="shared")


def test_bad_mode_name(state_dir):
    with pytest.raises(ValueError):
        Journal(state_dir, "x", mode="world")


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root")
def test_shared_mode_accepts_a_colleagues_incident_dir(state_dir):
    state_dir.mkdir()
    os.chmod(state_dir, 0o3770)
    Journal(state_dir, "s", mode="shared").close()
    inc = state_dir / "incidents" / "s"
    for p in (state_dir / "incidents", inc, inc / "journal", inc / "quarantine", inc / "outputs"):
        os.chown(p, 12345, -1)  # created by a colleague (uid 12345)
    Journal(state_dir, "s", mode="shared").close()
    with pytest.raises(UnsafeStateDir, match="owned by uid 12345"):
        Journal(state_dir, "s", mode="personal")  # personal mode: ours only


MOUNTINFO = """\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
40 22 0:40 / /srv/dr\\040state rw,relatime shared:9 - nfs4 fs1:/export/dr rw,vers=4.2
41 22 0:41 / /var/lib/dr-cockpit rw,relatime shared:10 - cifs //fs2/dr rw
"""


def test_network_filesystems_are_refused_for_shared_state(tmp_path):
    from cockpit.journal.perms import check_local_fs, filesystem_type

    assert filesystem_type(Path("/srv/dr state/incidents"), MOUNTINFO) == "nfs4"
    assert filesystem_type(Path("/var/lib/dr-cockpit"), MOUNTINFO) == "cifs"
    assert filesystem_type(Path("/home/alice"), MOUNTINFO) == "ext4"
    with pytest.raises(UnsafeStateDir, match="network filesystem \\(cifs\\)"):
        check_local_fs(Path("/var/lib/dr-cockpit"), MOUNTINFO, env={})
    check_local_fs(Path("/var/lib/dr-cockpit"), MOUNTINFO, env={"COCKPIT_ALLOW_NETWORK_FS": "1"})
    check_local_fs(Path("/home/alice"), MOUNTINFO, env={})
    check_local_fs(tmp_path)  # this machine's temp dir is local
