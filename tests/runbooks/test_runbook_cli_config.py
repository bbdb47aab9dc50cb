"""`cockpit runbooks list/show/validate` load the same library and configuration as the
cockpit (issue 10, ux-review B7, M12, MISSING 8): cockpit.toml's runbook_dirs and from_config,
invalid runbooks reported with the right count, runbook services checked against the config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cockpit.config import load_config
from cockpit.session.live import LiveSession

UXTEST = """\
[runbook]
id = "uxtest"
title = "UX test"
services = ["web"]
priority = "P0"

[[params]]
name = "web_port"
type = "port"
description = "the web server's port"
from_config = "services.web.probes.http.url#port"

[[steps]]
id = "hello"
title = "Say hello"
command = ["echo", "hello on port {web_port}"]
timeout = "10s"
destructive = false
"""

BROKEN = """\
[runbook]
id = "broken"
title = "Broken"
services = ["web"]
priority = "P9"
wat = 1

[[steps]]
id = "x"
"""

NOSUCH = UXTEST.replace('id = "uxtest"', 'id = "nosuchsvc"').replace(
    'services = ["web"]', 'services = ["nosuch"]').replace(
    "services.web.probes", "services.nosuch.probes")

CONFIG = """\
[cockpit]
environment = "b7"
runbook_dirs = ["rb"]

[services.web]
title = "Local web"
rto = "1h"
[[services.web.probes]]
kind = "http"
name = "http"
url = "http://127.0.0.1:38457/"

[services.database]
title = "PostgreSQL"
[[services.database.probes]]
kind = "postgres"
name = "primary"
dsn = "host=127.0.0.1 port=5432 dbname=postgres"
"""


def setup(tmp_path: Path, *extra: tuple[str, str]) -> Path:
    rb = tmp_path / "rb"
    rb.mkdir()
    (rb / "uxtest.toml").write_text(UXTEST)
    for name, text in extra:
        (rb / name).write_text(text)
    cfg = tmp_path / "cockpit.toml"
    cfg.write_text(CONFIG)
    return cfg


def cli(tmp_path: Path, cfg: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cockpit", "--config", str(cfg), "--state-dir",
                           str(tmp_path / "state"), "runbooks", *args], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)


def test_B7_runbooks_show_loads_runbook_dirs_and_from_config_like_the_cockpit(tmp_path):
    cfg = setup(tmp_path)
    shown = cli(tmp_path, cfg, "show", "uxtest", "--exact")
    assert shown.returncode == 0, shown.stderr
    assert "echo 'hello on port 38457'" in shown.stdout  # from_config resolved
    r = cli(tmp_path, cfg, "show", "database", "--scenario", "crash", "--exact")
    assert r.returncode == 0, r.stderr
    assert "pg_isready -h 127.0.0.1 -p 5432 -d postgres -t 5" in r.stdout
    # the navigator's library and parameter values: the same
    config = load_config(cfg)
    s = LiveSession(config, tmp_path / "state", probes=False, runbook_dirs=config.runbook_dirs)
    lib = s.runbooks.library().library
    rb = lib.get("uxtest")
    rendered = rb.render(rb.step("hello"), s.runbooks.param_values(rb, None))
    assert rendered.display() in shown.stdout  # exactly what the navigator runs
    r = cli(tmp_path, cfg, "list")
    assert r.returncode == 0, r.stderr
    assert "uxtest" in r.stdout and "database" in r.stdout
    assert sorted(x.id for x in lib) == sorted(
        line.split()[0] for line in r.stdout.splitlines() if line.strip())
    r = cli(tmp_path, cfg, "validate")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"{len(lib)} runbooks")


def test_M12_invalid_runbooks_in_runbook_dirs_reported_with_the_right_count(tmp_path):
    cfg = setup(tmp_path, ("broken.toml", BROKEN))
    r = cli(tmp_path, cfg, "list")
    assert r.returncode == 1
    assert "uxtest" in r.stdout  # the valid ones are still listed
    errs = [ln for ln in r.stderr.splitlines() if "broken.toml:" in ln]
    assert len(errs) >= 2
    assert f"{len(errs)} error(s) in 1 runbook file(s)" in r.stderr
    r = cli(tmp_path, cfg, "validate")
    assert r.returncode == 1
    assert f"{len(errs)} error(s) in 1 file(s)" in r.stderr


def test_MISSING8_runbook_services_checked_against_the_config(tmp_path):
    cfg = setup(tmp_path, ("nosuch.toml", NOSUCH))
    r = cli(tmp_path, cfg, "validate")
    assert r.returncode == 1
    lines = [ln for ln in r.stderr.splitlines() if "nosuch.toml:" in ln]
    assert any(":4: runbook.services: unknown service 'nosuch'" in ln for ln in lines), lines
    assert any("from_config" in ln and "'nosuch'" in ln for ln in lines), lines
    r = cli(tmp_path, cfg, "list", "--failing", "nosuch")
    assert r.returncode == 2 and "unknown service 'nosuch'" in r.stderr
    r = cli(tmp_path, cfg, "show", "database", "--scenario", "nosuch")
    assert r.returncode == 2 and "no scenario 'nosuch'" in r.stderr and "crash" in r.stderr
