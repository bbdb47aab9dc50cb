"""cockpit.toml: look-up order, validation, and one-line errors with file and line."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cockpit.cli import main
from cockpit.config import find_config, load_config, resolve_state_dir
from cockpit.document import DocumentError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "cockpit.example.toml"

GOOD = """\
[cockpit]
environment = "staging"

[services.database]
title = "PostgreSQL"
priority = "P0"
rto = "1h"
rpo = "15m"

[[services.database.probes]]
kind = "tcp"
host = "127.0.0.1"
port = 5432
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "cockpit.toml"
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def test_example_config_is_valid_and_describes_the_plan():
    cfg = load_config(EXAMPLE)
    assert set(cfg.services) >= {"database", "redis", "backend", "frontend", "backups", "stellar", "dns"}
    db = cfg.services["database"]
    assert (db.rto, db.rpo, db.priority) == (3600, 900, "P0")
    assert cfg.services["backend"].rto == 7200
    assert cfg.services["frontend"].rto == 4 * 3600
    assert (cfg.services["redis"].rto, cfg.services["redis"].rpo) == (7200, 3600)
    assert (cfg.milestones.detect, cfg.milestones.respond, cfg.milestones.communicate) == (300, 900, 1800)
    kinds = {p.kind for s in cfg.services.values() for p in s.probes}
    assert kinds >= {"postgres", "redis", "http", "walg", "s3", "horizon", "dns"}


def test_example_config_holds_no_inline_secret():
    text = EXAMPLE.read_text()
    for line in text.splitlines():
        code = line.split("#", 1)[0]
        assert "password =" not in code and "secret_access_key =" not in code, line


def test_good_config_loads(tmp_path):
    cfg = load_config(write(tmp_path, GOOD))
    assert cfg.environment == "staging"
    p = cfg.services["database"].probes[0]
    assert p.kind == "tcp" and p.interval == 15 and p.deadline == 5 and p.fail_after == 3


BROKEN = {
    "bad toml": ("[cockpit]\nenvironment = \"x\"\n[services.database\n", 3, "invalid TOML"),
    "unknown key": ("[cockpit]\nenvironment = \"x\"\ncolour = \"red\"\n", 3, "cockpit.colour: unknown key"),
    "wrong type": ("[services.database]\ntitle = \"PG\"\nrto = \"60s\"\npriority = 0\n", 4,
                   "services.database.priority: expected a string"),
    "duration without unit": ("[services.database]\ntitle = \"PG\"\nrto = 15\n", 3,
                              "services.database.rto: write the unit: \"15s\", \"15m\" or \"15h\""),
    "bad duration": ("[services.database]\ntitle = \"PG\"\n\nrto = \"soon\"\n", 4,
                     "services.database.rto: expected a duration"),
    "missing required": ("[services.database]\npriority = \"P0\"\n", 1,
                         "services.database.title: missing required value"),
    "unknown probe kind": ("[services.db]\ntitle = \"PG\"\n[[services.db.probes]]\nkind = \"ftp\"\n", 4,
                           "services.db.probes[0].kind: unknown probe kind"),
    "missing probe kind": ("[services.db]\ntitle = \"PG\"\n[[services.db.probes]]\nname = \"x\"\n", 3,
                           "services.db.probes[0].kind: missing required value"),
    "bad choice": ("[cockpit]\nmode = \"public\"\n", 2, "cockpit.mode: must be one of"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_config_gives_one_line_with_file_and_line(case, tmp_path, capsys):
    text, line, fragment = BROKEN[case]
    path = write(tmp_path, text)
    with pytest.raises(DocumentError) as err:
        load_config(path)
    msg = err.value.one_line()
    assert msg.startswith(f"{path}:{line}:"), msg
    assert fragment in msg
    assert "\n" not in msg
    # Through the CLI: exit code 2, one line on stderr, nothing on stdout.
    rc = main(["--config", str(path), "status"]) if False else main(["--config", str(path)])
    out, errtext = capsys.readouterr()
    assert rc == 2
    assert errtext.strip().count("\n") == 0 and f"{path}:{line}:" in errtext
    assert "Traceback" not in errtext and out == ""


def test_broken_config_from_a_real_process_has_no_traceback(tmp_path):
    path = write(tmp_path, "[cockpit]\nenvironment = 3\n")
    r = subprocess.run([sys.executable, "-m", "cockpit", "--config", str(path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip() == f"cockpit: {path}:2: cockpit.environment: expected a string, got int"
    assert "Traceback" not in r.stderr


def test_missing_config_file_is_one_line(tmp_path, capsys):
    assert main(["--config", str(tmp_path / "nope.toml")]) == 2
    err = capsys.readouterr().err
    assert "nope.toml" in err and err.count("\n") == 1


def test_no_config_anywhere_points_at_the_demo(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main([]) == 2
    assert "cockpit demo" in capsys.readouterr().err


def test_config_lookup_order(tmp_path, monkeypatch):
    (tmp_path / "cockpit.toml").write_text(GOOD)
    env_cfg = tmp_path / "env.toml"
    env_cfg.write_text(GOOD)
    assert find_config("x.toml", env={"COCKPIT_CONFIG": str(env_cfg)}, cwd=tmp_path)[0] == Path("x.toml")
    assert find_config(None, env={"COCKPIT_CONFIG": str(env_cfg)}, cwd=tmp_path)[0] == env_cfg
    assert find_config(None, env={}, cwd=tmp_path)[0] == tmp_path / "cockpit.toml"
    empty = tmp_path / "empty"
    empty.mkdir()
    user = Path(str(tmp_path / "xdg"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(user))
    (user / "dr-cockpit").mkdir(parents=True)
    (user / "dr-cockpit" / "cockpit.toml").write_text(GOOD)
    assert find_config(None, env={}, cwd=empty)[0] == user / "dr-cockpit" / "cockpit.toml"


def test_state_dir_resolution(tmp_path):
    assert resolve_state_dir("/a", env={"COCKPIT_STATE_DIR": "/b"}) == Path("/a")
    assert resolve_state_dir(None, env={"COCKPIT_STATE_DIR": "/b"}) == Path("/b")
    # Run from this checkout: ./state of the checkout.
    assert resolve_state_dir(None, env={}) == ROOT / "state"
