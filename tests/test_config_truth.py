"""Configuration truth (issue 10, ux-review B3, MISSING 6, MISSING 13, M6): ids validated so
whatever validates can be shown; every error of a file in one run; inline secrets refused
with a one-line error that says to use *_env / *_file (never echoing the secret); one parser
for a moment in the past, the declare form's and the CLI's."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from cockpit.config import load_config
from cockpit.document import DocumentError, DocumentErrors
from cockpit.timeutil import parse_when


def cli(tmp_path: Path, cfg: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cockpit", "--config", str(cfg), "--state-dir",
                           str(tmp_path / "state"), *args], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)


SPACE_ID = """\
[services."my db"]
title = "My DB"
[[services."my db".probes]]
kind = "tcp"
host = "127.0.0.1"
port = 1
"""


@pytest.mark.parametrize("args", [(), ("status",)])
def test_B3_service_id_with_a_space_is_refused_with_file_and_line(tmp_path, args):
    cfg = tmp_path / "cockpit-space.toml"
    cfg.write_text(SPACE_ID)
    r = cli(tmp_path, cfg, *args)  # the cockpit itself (no TUI started) and `status`
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"cockpit: {cfg}:1: services.\"my db\":")
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr


THREE_MISTAKES = """\
[cockpit]
environment = 3
mode = "weird"

[services.db]
title = "DB"
rto = "abc"
"""


def test_MISSING6_every_validation_error_of_a_file_in_one_run(tmp_path):
    cfg = tmp_path / "bad3.toml"
    cfg.write_text(THREE_MISTAKES)
    with pytest.raises(DocumentErrors) as err:
        load_config(cfg)
    assert [e.line for e in err.value.errors] == [2, 3, 7]
    assert isinstance(err.value, DocumentError)  # callers that catch one still catch it
    r = cli(tmp_path, cfg, "status")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert [ln.split(":")[2] for ln in lines] == ["2", "3", "7"], lines
    assert "cockpit.environment" in lines[0] and "cockpit.mode" in lines[1]
    assert "services.db.rto" in lines[2]


INLINE = """\
[services.db]
title = "DB"
[[services.db.probes]]
kind = "postgres"
dsn = "host=127.0.0.1 dbname=postgres password=hunter3"

[services.web]
title = "Web"
[[services.web.probes]]
kind = "http"
url = "http://admin:hunter2@127.0.0.1:1/"
"""


def test_MISSING13_inline_secrets_are_refused_saying_use_env_or_file(tmp_path):
    cfg = tmp_path / "cockpit.toml"
    cfg.write_text(INLINE)
    r = cli(tmp_path, cfg, "status")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"cockpit: {cfg}:5: services.db.probes[0].dsn: ")
    assert lines[1].startswith(f"cockpit: {cfg}:11: services.web.probes[0].url: ")
    for ln in lines:
        assert "password_env" in ln and "*_env or *_file" in ln
    assert "hunter3" not in r.stderr and "hunter2" not in r.stderr  # never echoed
    # the same without the password: accepted
    cfg.write_text(INLINE.replace(" password=hunter3", "").replace("admin:hunter2@", ""))
    load_config(cfg)


def test_MISSING13_allow_inline_secrets_is_an_explicit_opt_in(tmp_path):
    cfg = tmp_path / "cockpit.toml"
    cfg.write_text("[cockpit]\nallow_inline_secrets = true\n" + INLINE)
    assert set(load_config(cfg).services) == {"db", "web"}


# ---------------------------------------------------------------- M6: one parser for "when"
NOW = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC


@pytest.mark.parametrize("text", ["25:70", "24:00", "12:60", "yesterday", "10x", "", "-5m"])
def test_M6_impact_start_nonsense_is_refused(text):
    with pytest.raises(ValueError):
        parse_when(text, NOW)


@pytest.mark.parametrize("text, expect", [("10m", NOW - 600), ("10m ago", NOW - 600),
                                          ("07:50", NOW - 600), ("07:50:30", NOW - 570),
                                          ("2027-01-15T07:50:00Z", NOW - 600)])
def test_M6_impact_start_the_forms_the_cli_documents(text, expect):
    assert parse_when(text, NOW) == expect


async def test_M6_declare_form_uses_the_same_parser_and_refuses_nonsense():
    from textual.app import App
    from textual.widgets import Input

    from cockpit.screens.forms import DeclareForm

    class Host(App):
        def __init__(self, form: DeclareForm) -> None:
            super().__init__()
            self.form = form

        def on_mount(self) -> None:
            self.push_screen(self.form)

    now = time.time()
    host = Host(DeclareForm([("db", "DB")], set(), None, now))
    async with host.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        form = host.form
        form.query_one("#title", Input).value = "db down"
        impact = form.query_one("#impact", Input)
        impact.value = "25:70"
        assert form.values() is None
        impact.value = "10m"  # the CLI's documented form, accepted in the form too
        v = form.values()
        assert v is not None and abs(v["impact_start"] - (now - 600)) < 1
        await pilot.pause()
