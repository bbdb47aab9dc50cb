"""``[sync]`` in cockpit.toml: off by default, credentials only by reference (an inline
secret is refused in one line naming file, line and key), endpoint configurable."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cockpit.config import load_config
from cockpit.document import DocumentError


def cfg(tmp_path, body: str):
    p = tmp_path / "cockpit.toml"
    p.write_text('[cockpit]\nenvironment = "t"\n\n[sync]\n' + body)
    return p


def test_off_by_default_and_when_disabled(tmp_path):
    assert load_config(cfg(tmp_path, 'bucket = "b"\n')).sync is None
    p = tmp_path / "plain.toml"
    p.write_text('[cockpit]\nenvironment = "t"\n')
    assert load_config(p).sync is None


def test_enabled_sync_config(tmp_path):
    s = load_config(cfg(tmp_path, 'enabled = true\nbucket = "dr-journal"\nprefix = "x"\n'
                        'endpoint = "http://127.0.0.1:9000"\ninterval = "45s"\n'
                        'secret_access_key_file = "s.txt"\naccess_key_id = "AKIA1"\n')).sync
    assert s is not None
    assert (s.bucket, s.prefix, s.endpoint, s.interval) == ("dr-journal", "x",
                                                            "http://127.0.0.1:9000", 45.0)
    assert s.credentials["secret_access_key_file"] == str(tmp_path / "s.txt")
    assert s.deadline == 10.0


@pytest.mark.parametrize("line", ['secret_access_key = "hunter22"', 'session_token = "tok"'])
def test_inline_secret_is_refused(tmp_path, line):
    p = cfg(tmp_path, f'enabled = true\nbucket = "b"\n{line}\n')
    with pytest.raises(DocumentError) as e:
        load_config(p)
    msg = e.value.one_line()
    assert str(p) in msg and ":7:" in msg and "inline secrets are refused" in msg
    assert "hunter22" not in msg and "tok\"" not in msg


def test_missing_bucket_and_bad_endpoint(tmp_path):
    with pytest.raises(DocumentError, match="bucket"):
        load_config(cfg(tmp_path, "enabled = true\n"))
    with pytest.raises(DocumentError, match="http"):
        load_config(cfg(tmp_path, 'enabled = true\nbucket = "b"\nendpoint = "s3.local"\n'))


def test_cli_without_sync_configured_says_so(tmp_path):
    p = tmp_path / "cockpit.toml"
    p.write_text('[cockpit]\nenvironment = "t"\n')
    r = subprocess.run([sys.executable, "-m", "cockpit", "--config", str(p), "--state-dir",
                        str(tmp_path / "s"), "sync", "--once"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "sync is not configured" in r.stderr


def test_cli_sync_against_a_blackhole_stops_at_its_deadline(tmp_path):
    from shared_fakes import Blackhole

    from .bastion import Bastion

    hole = Blackhole()
    try:
        b = Bastion(tmp_path, "b0", bucket="dr", endpoint=f"http://127.0.0.1:{hole.port}",
                    access_key="AKIATEST", secret_key="not-a-secret", deadline="2s")
        r = b.cli("incident", "declare", "--title", "Cut off")
        assert r.returncode == 0
        r = b.sync()  # subprocess timeout 120 s: the run itself gives up after its deadline
        assert r.returncode == 1
        assert "timed out" in r.stderr or "deadline" in r.stderr, r.stderr
        assert "2 entries waiting" in r.stderr and r.stderr.count("\n") == 1
        assert "not-a-secret" not in r.stderr + r.stdout
    finally:
        hole.close()


def test_an_observer_never_syncs(tmp_path):
    """A read-only view (the browser's) writes nothing, mirrors included: only the operator's
    cockpit (or cron's ``cockpit sync``) syncs."""
    from cockpit.session.live import LiveSession

    (tmp_path / "s.txt").write_text("secret\n")
    c = load_config(cfg(tmp_path, 'enabled = true\nbucket = "b"\n'
                        'endpoint = "http://127.0.0.1:9"\nsecret_access_key_file = "s.txt"\n'
                        'access_key_id = "AKIA1"\n'))
    operator = LiveSession(c, tmp_path / "state", probes=False)
    observer = LiveSession(c, tmp_path / "state", probes=False, observer=True)
    try:
        assert operator._sync is not None and operator.sync_status() == "sync: starting"
        assert observer._sync is None and observer.sync_status() == ""
    finally:
        operator.stop()
        observer.stop()
