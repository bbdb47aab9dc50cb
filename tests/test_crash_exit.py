"""Crashes exit non-zero and print one sanitized, redacted line (issue 17): the CLI and the
cockpit. The fault is injected (a bug has no real input that triggers it); what is tested is
the one path every internal error takes."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from cockpit.crash import EXIT_INTERNAL
from cockpit.incident.store import IncidentStore

cli_main = importlib.import_module("cockpit.cli.main")
HOSTILE = "boom \x1b]0;PWNED\x07 \x9b2J \u202ebidi password=S3cr3tCanary\nsecond line"


def _boom(*_a, **_k):
    raise RuntimeError(HOSTILE)


def _check_line(err: str) -> None:
    lines = err.splitlines()
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith("cockpit: internal error: RuntimeError: boom"), line
    assert "Traceback" not in err and "S3cr3tCanary" not in err
    assert not any(c in err for c in "\x1b\x07\x9b\u202e"), repr(err)
    assert "password=********" in line and "(report: " in line


def test_a_cli_crash_exits_70_with_one_clean_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(IncidentStore, "list", _boom)
    rc = cli_main.main(["incident", "list", "--state-dir", str(tmp_path / "s")])
    assert rc == EXIT_INTERNAL == 70
    err = capsys.readouterr().err
    _check_line(err)
    report = err.split("(report: ", 1)[1].rstrip(")\n")
    text = Path(report).read_text(encoding="utf-8")
    assert "Traceback" in text and "S3cr3tCanary" not in text
    assert not any(c in text for c in "\x1b\x07\x9b\u202e"), repr(text[-300:])


async def test_a_cockpit_crash_exits_70_with_one_clean_line(monkeypatch, capsys):
    from ui.helpers import demo_app

    app = demo_app()
    monkeypatch.setattr(app, "action_help", _boom)
    with pytest.raises(RuntimeError, match="boom"):  # the test harness re-raises it
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await pilot.press("question_mark")
            await pilot.pause()
    assert app.return_code == EXIT_INTERNAL
    err = capsys.readouterr().err  # what Textual prints after the app has ended
    _check_line(" ".join(err.split()))  # (the console wraps the line at its width)


def test_run_ui_passes_the_code_on():
    class Crashed:
        return_code = EXIT_INTERNAL

        def run(self):
            return None

    assert cli_main.run_ui(Crashed) == EXIT_INTERNAL


@pytest.mark.parametrize("limit,ok", [(16 * 1024 * 1024, True), (16 * 1024 * 1024 + 1, False)])
def test_max_body_has_a_documented_maximum(tmp_path, limit, ok):
    """Bounded: a probe reads at most 16 MiB of an answer (README), max_body above is an
    error naming file, line and key."""
    from cockpit.config import load_config
    from cockpit.document import DocumentError

    cfg = tmp_path / "cockpit.toml"
    cfg.write_text(f"""
[services.web]
title = "Web"
[[services.web.probes]]
kind = "http"
name = "h"
url = "http://127.0.0.1:1/"
max_body = {limit}
""")
    if ok:
        load_config(cfg)
        return
    with pytest.raises(DocumentError) as e:
        load_config(cfg)
    line = e.value.one_line()
    assert ":7: services.web.probes[0].max_body" in line or "max_body" in line
    assert "at most 16777216 bytes (16 MiB)" in line


def test_a_crash_masks_every_secret_the_configuration_holds(tmp_path, monkeypatch, capsys):
    """A secret of cockpit.toml (here a *_env value) quoted by an exception in any form is
    masked in the crash line and the report (it matches no pattern: masked by value)."""
    monkeypatch.setenv("CANARY_ENV", "EnvCanary123")
    cfg = tmp_path / "cockpit.toml"
    cfg.write_text("""
[services.db]
title = "DB"
[[services.db.probes]]
kind = "postgres"
name = "p"
dsn = "host=127.0.0.1 port=1 user=u"
password_env = "CANARY_ENV"
""")

    def boom(*_a, **_k):
        raise RuntimeError("could not use EnvCanary123 as the key")

    monkeypatch.setattr(IncidentStore, "list", boom)
    rc = cli_main.main(["incident", "list", "--config", str(cfg),
                        "--state-dir", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert rc == EXIT_INTERNAL and "EnvCanary123" not in err and "could not use" in err
    report = err.split("(report: ", 1)[1].rstrip(")\n")
    text = Path(report).read_text(encoding="utf-8")
    assert "could not use" in text and "EnvCanary123" not in text
