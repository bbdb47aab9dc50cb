"""``capture``, ``verify``, ``pir`` and ``metrics`` run in a subprocess with an empty $HOME,
no configuration and no network namespace (``unshare -rn``): they work, and nothing tries to
connect (an audit hook ends the process the moment a socket to the internet is made, a name
resolved or an address connected). No configured secret reaches any bundle member, the
review or the metrics (canary values of every kind)."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile

import pytest

from cockpit.journal.model import incident_dir

from .helpers import (
    CANARIES,
    CANARY_ENV,
    CANARY_FILE,
    CANARY_INLINE,
    IID,
    T0,
    canary_env,
    run_cli,
    unshare_works,
    write_config,
    write_incident,
)

ENTRIES = [
    (0, "incident.declared", {"title": "db lost", "severity": "P0",
                              "services": ["database", "redis"], "impact_start": T0 - 100}),
    (10, "step.started", {"runbook": "database", "step": "promote", "attempt": 1, "run": "r1"}),
    (20, "health", {"service": "database", "status": "fail", "summary": "refused",
                    "rpo_exposure": 300.0, "key_figure": "lag 5m"}),
    (30, "note", {"type": "communication", "text": "status page: password=********"}),
    (60, "health", {"service": "database", "status": "ok", "summary": "up"}),
    (70, "health", {"service": "redis", "status": "ok", "summary": "up"}),
    (80, "incident.status", {"status": "recovered"}),
    (90, "incident.status", {"status": "closed"}),
]


@pytest.fixture
def world(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    state = tmp_path / "state"
    write_incident(state, ENTRIES)
    return home, work, state


def test_capture_verify_pir_metrics_offline_with_nothing(world):
    home, work, state = world
    if os.environ.get("CI") == "true":
        assert unshare_works(), "unshare -rn is needed in CI (no network namespace)"
    sd = ["--state-dir", str(state)]
    r = run_cli(["capture", IID, "-o", "b.tar", *sd], cwd=work, home=home)
    assert r.returncode == 0, r.stderr
    assert (work / "b.tar").is_file()
    r = run_cli(["verify", "b.tar"], cwd=work, home=home)
    assert r.returncode == 0 and r.stdout.startswith("OK: "), r.stdout + r.stderr
    r = run_cli(["pir", "b.tar", "-o", "pir.md"], cwd=work, home=home)
    assert r.returncode == 0, r.stderr
    text = (work / "pir.md").read_text()
    assert "| Database | 1h | 2m40s | MET | 15m | 5m00s | MET |" in text
    assert "the plan's default targets" in text
    r = run_cli(["pir", IID, *sd], cwd=work, home=home)
    assert r.returncode == 0 and "# Post-incident review: db lost" in r.stdout, r.stderr
    r = run_cli(["metrics", "--json", *sd], cwd=work, home=home)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["totals"]["incidents"] == 1
    # nothing was written to $HOME (no config, no cache, no state)
    assert list(home.iterdir()) == []


def test_the_network_guard_catches_a_connection(world):
    """The guard of the test above is real: a command that connects is stopped (exit 97)."""
    home, work, _state = world
    cfg = work / "cockpit.toml"
    cfg.write_text('[services.web]\ntitle = "Web"\nrto = "1h"\n\n[[services.web.probes]]\n'
                   'name = "h"\nkind = "tcp"\nhost = "127.0.0.1"\nport = 9\n')
    r = run_cli(["status", "--config", str(cfg)], cwd=work, home=home)
    assert r.returncode == 97 and "NETWORK: " in r.stderr, (r.returncode, r.stderr)


def test_a_broken_bundle_is_one_line_and_non_zero(world):
    home, work, state = world
    assert run_cli(["capture", IID, "-o", "b.tar", "--state-dir", str(state)], cwd=work,
                   home=home).returncode == 0
    raw = (work / "b.tar").read_bytes()
    (work / "b.tar").write_bytes(raw[: len(raw) // 2])
    for args in (["verify", "b.tar"], ["pir", "b.tar"]):
        r = run_cli(args, cwd=work, home=home)
        assert r.returncode == 1, args
        lines = (r.stdout + r.stderr).strip().splitlines()
        assert len(lines) == 1 and "truncated" in lines[0] and "Traceback" not in r.stderr


def test_no_configured_secret_in_any_bundle_member_review_or_metrics(world):
    home, work, state = world
    cfg = write_config(work)
    # the last-known health holds an error message that leaked every secret (a probe's
    # exception text): the bundle's copy is masked
    (state / "probes.toml").write_text(
        "# last-known\n[[probe]]\nservice = \"database\"\n"
        f"summary = \"connect failed: password={CANARY_INLINE} env {CANARY_ENV} "
        f"file {CANARY_FILE} postgresql://u:{CANARY_INLINE}@h/db\"\n")
    env = canary_env()
    sd = ["--state-dir", str(state), "--config", str(cfg)]
    r = run_cli(["capture", IID, "-o", "b.tar", *sd], cwd=work, home=home, extra_env=env)
    assert r.returncode == 0, r.stderr
    with tarfile.open(work / "b.tar") as tar:
        names = tar.getnames()
        assert "config/cockpit.toml" in names and "health/probes.toml" in names
        for m in tar:
            data = tar.extractfile(m).read()  # type: ignore[union-attr]
            for c in CANARIES:
                assert c.encode() not in data, (m.name, c)
        cfg_text = tar.extractfile("config/cockpit.toml").read().decode()  # type: ignore[union-attr]
        assert "password_env" in cfg_text and "********" in cfg_text
    assert CANARY_INLINE.encode() not in (work / "b.tar").read_bytes()
    outputs = []
    for args in (["pir", "b.tar"], ["pir", IID, *sd], ["metrics", *sd],
                 ["metrics", "--json", *sd], ["verify", "b.tar"]):
        r = run_cli(args, cwd=work, home=home, extra_env=env)
        assert r.returncode == 0, (args, r.stderr)
        outputs.append(r.stdout + r.stderr)
    # the review of the bundle uses the captured (masked) configuration's targets
    assert "targets from the captured configuration" in outputs[0]
    for out in outputs:
        for c in CANARIES:
            assert c not in out


def test_capture_refuses_an_exact_member_holding_a_secret(world):
    home, work, state = world
    cfg = write_config(work)
    out = incident_dir(state, IID) / "outputs"
    out.mkdir(exist_ok=True)
    (out / "r1.out").write_text(f"leaked {CANARY_ENV}\n")  # never masked at the source
    r = run_cli(["capture", IID, "-o", "b.tar", "--state-dir", str(state), "--config",
                 str(cfg)], cwd=work, home=home, extra_env=canary_env())
    assert r.returncode == 1
    assert "outputs/r1.out holds a configured secret value" in r.stderr
    assert CANARY_ENV not in r.stderr
    assert not (work / "b.tar").exists() and not list(work.glob(".b.tar*"))


def test_signed_capture_and_verify_from_the_cli(world):
    home, work, state = world
    key = work / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bob", "-f", str(key)],
                   check=True, capture_output=True)
    signers = work / "allowed"
    signers.write_text(f'bob@example namespaces="dr-cockpit" {(work / "id.pub").read_text()}')
    r = run_cli(["capture", IID, "-o", "s.tar", "--sign", str(key), "--state-dir", str(state)],
                cwd=work, home=home)
    assert r.returncode == 0 and "signed" in r.stdout, r.stderr
    r = run_cli(["verify", "s.tar", "--allowed-signers", str(signers)], cwd=work, home=home)
    assert r.returncode == 0 and "signed by bob@example, verified" in r.stdout, r.stderr
    r = run_cli(["pir", "s.tar", "--allowed-signers", str(signers)], cwd=work, home=home)
    assert r.returncode == 0 and "signed by bob\\@example, verified" in r.stdout, r.stderr
