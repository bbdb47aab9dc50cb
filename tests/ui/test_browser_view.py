"""The browser view (``cockpit serve``) in a real browser: Debian's headless Chromium driven
by Playwright, the cockpit's terminal read from the page's xterm.js buffer.

Set ``COCKPIT_SCREENSHOT=docs/browser-view.png`` to write the README's screenshot from the
incident test."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from shared_fakes import require

from benchmarks.browser import (
    CHROMIUM,
    PY,
    free_port,
    open_page,
    screen_text,
    serve,
    wait_screen,
)
from benchmarks.browser import browser as _browser
from cockpit.exercise.store import ExerciseStore
from cockpit.incident.store import IncidentStore


def browser():
    require(Path(CHROMIUM).is_file(), "chromium (Debian package: the browser view's test)")
    return _browser()

CANARIES = {"CANARY_REDIS": "RedisCanary456"}
URL_CANARY = "HttpUserCanary"


def _closed_port() -> int:
    return free_port()  # bound, then released: nothing listens there


def write_config(d: Path) -> Path:
    cfg = d / "cockpit.toml"
    cfg.write_text(f"""
[cockpit]
environment = "room projector"
allow_inline_secrets = true  # refused by default (issue 10): canaries prove the masking

[services.database]
title = "PostgreSQL"
priority = "P0"
rto = "1h"
rpo = "15m"

[services.cache]
title = "Redis"
priority = "P1"
rto = "2h"
rpo = "1h"

[[services.cache.probes]]
kind = "redis"
name = "cache"
host = "127.0.0.1"
port = {_closed_port()}
password_env = "CANARY_REDIS"

[services.web]
title = "Backend API"
priority = "P1"
rto = "1h"
rpo = "1h"

[[services.web.probes]]
kind = "http"
name = "health"
url = "http://webuser:{URL_CANARY}@127.0.0.1:{_closed_port()}/health"
""")
    return cfg


def journal_digest(root: Path) -> dict[str, str]:
    """Every file under ``root`` and its content's hash: any write shows."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PY, "-m", "cockpit", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def press_writing_keys(page) -> None:
    """Every key that declares, notes, changes status, roles, services or updates on the
    terminal cockpit, each followed by what would fill and save its form."""
    page.click("#terminal")
    for key in ("d", "n", "s", "a", "e", "u", "i", "ctrl+r"):
        page.keyboard.press(key if key != "ctrl+r" else "Control+r")
        time.sleep(0.3)
        page.keyboard.type("from the browser")
        page.keyboard.press("Control+s")
        page.keyboard.press("Enter")
        time.sleep(0.3)
        page.keyboard.press("Escape")
    # the runbook navigator: execute, dry run, confirm, skip (with a reason)
    page.keyboard.press("r")
    time.sleep(1.0)
    for key in ("x", "p", "v", "c", "b", "S", "F", "O", "T"):
        page.keyboard.press(key)
        time.sleep(0.2)
        page.keyboard.type("reason")
        page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")


@pytest.fixture
def incident(tmp_path):
    cfg = write_config(tmp_path)
    state = tmp_path / "state"
    store = IncidentStore(state, author="alice")
    iid = store.declare("Database primary lost", "P0", ["database", "cache"])
    store.close()
    return cfg, state, iid


def test_incident_in_the_browser_health_clocks_live_notes_and_no_writes(incident):
    cfg, state, iid = incident
    env = {**os.environ, **CANARIES}
    srv = serve("--config", str(cfg), "--state-dir", str(state), "serve", "--incident", iid,
                "--port", str(free_port()), env=env)
    try:
        assert any(f"INCIDENT {iid} READ-ONLY" in ln for ln in srv.lines), srv.lines
        with browser() as b:
            page = open_page(b, srv.url)
            # the title and a banner say what is shown and that it is read-only
            assert page.title() == f"DR Cockpit · INCIDENT {iid} · READ-ONLY"
            banner = page.inner_text("#banner")
            assert f"INCIDENT {iid}" in banner and "READ-ONLY" in banner
            # the health panes and the clocks of the incident, in the browser's terminal
            text = wait_screen(page, lambda t: "RTO PostgreSQL" in t and "Redis" in t
                               and "DOWN" in t, timeout=90)  # two failed probe rounds
            for shown in ("Health [1]", "Incident clocks [2]", "Incident log [3]",
                          "PostgreSQL", "Backend API", "RTO Redis", "RPO PostgreSQL",
                          "Database primary lost", f"READ-ONLY VIEW of INCIDENT {iid}"):
                assert shown in text, (shown, text)
            # no writing key in the footer (shown once the page has the focus)
            page.click("#terminal")
            text = wait_screen(page, lambda t: "Quit" in t.rstrip().splitlines()[-1])
            footer = text.rstrip().splitlines()[-1]
            assert "Quit" in footer and "Declare" not in footer and "Note" not in footer, footer
            # a note journaled from a terminal shows up (the test waits generously and
            # reports the delay: the machine is loaded; the figure is in the README)
            t0 = time.monotonic()
            done = cli("--config", str(cfg), "--state-dir", str(state), "incident", "note",
                       iid, "replica promoted by bob in a terminal")
            assert done.returncode == 0, done.stderr
            wait_screen(page, lambda t: "replica promoted by bob" in t, timeout=20)
            print(f"note on the browser's screen {time.monotonic() - t0:.2f}s after the "
                  "CLI was started")
            before = journal_digest(state)
            entries_before = len(IncidentStore(state).entries(iid))
            press_writing_keys(page)
            time.sleep(2.0)  # anything a key started would have been written by now
            after = journal_digest(state)
            assert after == before, "the browser wrote to the state directory"
            assert len(IncidentStore(state).entries(iid)) == entries_before
            text = screen_text(page)
            assert "from the browser" not in text, text
            # secrets: not on the screen, not in the page
            page_html = page.content()
            for secret in (*CANARIES.values(), URL_CANARY):
                assert secret not in text and secret not in page_html
            shot = os.environ.get("COCKPIT_SCREENSHOT")
            if shot:
                page.keyboard.press("Escape")
                wait_screen(page, lambda t: "Incident clocks [2]" in t)
                time.sleep(1.5)
                page.screenshot(path=shot)
    finally:
        srv.stop()


def _status(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=20) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_without_the_token_everything_is_refused(incident):
    cfg, state, iid = incident
    srv = serve("--config", str(cfg), "--state-dir", str(state), "serve", "--incident", iid,
                "--port", str(free_port()))
    try:
        for path in ("/", "/ws", "/static/js/textual.js", "/?token=wrong",
                     "/static/js/textual.js?token=" + srv.token[:-1]):
            code, body = _status(srv.base + path)
            assert code == 403, (path, code)
            assert "access token" in body
        assert _status(srv.url)[0] == 200
        with browser() as b:
            page = open_page(b, srv.base + "/")
            assert "403 Forbidden" in page.inner_text("body")
            time.sleep(1.0)
            assert screen_text(page) == ""  # no terminal, no cockpit spawned
            # the websocket itself refuses a browser without the token
            refused = page.evaluate("""url => new Promise(done => {
                const ws = new WebSocket(url);
                ws.onopen = () => done('open'); ws.onerror = () => done('refused'); })""",
                                    srv.base.replace("http", "ws") + "/ws")
            assert refused == "refused"
    finally:
        srv.stop()


def test_a_non_loopback_bind_without_tls_is_refused_in_one_line(incident, tmp_path):
    cfg, state, iid = incident
    for host in ("0.0.0.0", "192.0.2.10", "db-1.internal"):
        r = cli("--config", str(cfg), "--state-dir", str(state), "serve", "--incident", iid,
                "--host", host, "--port", str(free_port()))
        assert r.returncode == 2, (host, r)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and "refusing to serve on " + host in lines[0], r.stderr
        assert "TLS" in lines[0] and "--insecure" in lines[0]
        assert r.stdout == ""  # no token printed, nothing served
    r = cli("--config", str(cfg), "--state-dir", str(state), "serve", "--incident", iid,
            "--host", "0.0.0.0", "--tls-cert", str(tmp_path / "missing.pem"))
    assert r.returncode == 2 and "--tls-key" in r.stderr


def test_bad_input_is_one_line_before_anything_is_served(incident, tmp_path):
    cfg, state, iid = incident
    cases = [
        (["--config", str(cfg), "--state-dir", str(state), "serve", "--incident",
          "20200101-000000-nope-0000"], "no such incident: 20200101-000000-nope-0000 (in "),
        (["--config", str(cfg), "--state-dir", str(state), "serve", "--incident", "../etc"],
         "incident id"),
        (["--state-dir", str(state), "serve", "--incident", iid], "needs the environment's "
                                                                  "cockpit.toml"),
        (["--state-dir", str(state), "serve", "--exercise", "latest"], "no exercise"),
        (["--state-dir", str(state), "observe", "--exercise", "nope"], "exercise"),
        (["--config", str(cfg), "--state-dir", str(state), "serve", "--port", "70000"],
         "not a TCP port"),
    ]
    for argv, said in cases:
        r = cli(*argv)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and r.stdout == "", (argv, r)
        assert len(lines) == 1 and lines[0].startswith("cockpit: ") and said in lines[0], \
            (argv, r.stderr)


def test_a_taken_port_is_one_line_and_no_token_is_printed(incident):
    cfg, state, iid = incident
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = cli("--config", str(cfg), "--state-dir", str(state), "serve", "--incident", iid,
                "--port", str(port))
    assert r.returncode == 2 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and f"127.0.0.1:{port}: cannot serve" in lines[0], r.stderr


def test_sigterm_stops_the_server_and_every_browsers_cockpit(incident):
    cfg, state, iid = incident
    srv = serve("--config", str(cfg), "--state-dir", str(state), "serve", "--incident", iid,
                "--port", str(free_port()))
    try:
        with browser() as b:
            page = open_page(b, srv.url)
            wait_screen(page, lambda t: "Incident clocks [2]" in t)
            children = subprocess.run(["pgrep", "-g", str(srv.proc.pid)], capture_output=True,
                                      text=True).stdout.split()
            assert len(children) >= 2, children  # the server and the browser's cockpit
            srv.proc.send_signal(signal.SIGTERM)
            assert srv.proc.wait(timeout=30) == 0
            deadline = time.monotonic() + 30
            left = children
            while left and time.monotonic() < deadline:
                left = subprocess.run(["pgrep", "-g", str(srv.proc.pid)], capture_output=True,
                                      text=True).stdout.split()
                time.sleep(0.2)
            assert not left, f"left running: {left}"
    finally:
        srv.stop()


def test_a_non_loopback_bind_with_tls_serves_https(incident, tmp_path):
    cfg, state, iid = incident
    assert shutil.which("openssl"), "openssl"
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=120)
    port = free_port()
    srv = serve("--config", str(cfg), "--state-dir", str(state), "serve", "--incident", iid,
                "--host", "0.0.0.0", "--port", str(port), "--tls-cert", str(cert),
                "--tls-key", str(key))
    try:
        assert srv.url.startswith(f"https://0.0.0.0:{port}/?token=")
        import ssl

        ctx = ssl.create_default_context(cafile=str(cert))
        ctx.check_hostname = False
        local = f"https://127.0.0.1:{port}/"
        with urllib.request.urlopen(local + "?token=" + srv.token, context=ctx,
                                    timeout=20) as r:
            assert r.status == 200 and "READ-ONLY" in r.read().decode()
            assert "Secure" in r.headers["Set-Cookie"]
        try:
            urllib.request.urlopen(local, context=ctx, timeout=20)
            raise AssertionError("served without the token")
        except urllib.error.HTTPError as e:
            assert e.code == 403
    finally:
        srv.stop()


def test_an_exercise_in_the_browser_is_read_only(tmp_path):
    state = tmp_path / "state"
    r = cli("--state-dir", str(state), "exercise", "start", "database-loss", "--running",
            "--speed", "60", "-q")
    assert r.returncode == 0, r.stderr
    xid = r.stdout.strip()
    store = ExerciseStore(state)
    root = store.root
    store.close()
    before = journal_digest(root)  # a viewer's cockpit does not write when it opens either
    srv = serve("--state-dir", str(state), "serve", "--exercise", "latest", "--port",
                str(free_port()))
    try:
        assert any(f"EXERCISE {xid} READ-ONLY" in ln for ln in srv.lines), srv.lines
        with browser() as b:
            page = open_page(b, srv.url)
            assert page.title() == f"DR Cockpit · EXERCISE {xid} · READ-ONLY"
            text = wait_screen(page, lambda t: "EXERCISE · Health [1]" in t
                               and "EXERCISE · Incident clocks [2]" in t)
            assert f"READ-ONLY VIEW of EXERCISE {xid}" in text
            press_writing_keys(page)
            page.keyboard.press("t")  # the facilitator's screen: not in a view
            page.keyboard.press("Space")  # the clock
            time.sleep(2.0)
            assert journal_digest(root) == before, "the browser wrote to the exercise"
    finally:
        srv.stop()


def test_review_is_served_through_the_review_command_or_refused_in_one_line(tmp_path):
    from cockpit.cli.main import build_parser
    from cockpit.cli.serve import _review_available, child_command

    bundle = tmp_path / "bundle.tar.gz"
    bundle.write_bytes(b"")
    argv = ["--state-dir", str(tmp_path / "state"), "serve", "--review", str(bundle),
            "--port", str(free_port())]
    if _review_available():  # each browser gets `cockpit review BUNDLE`
        args = build_parser().parse_args(argv)
        args.config_obj = None
        assert child_command(args)[-2:] == ["review", str(bundle.resolve())]
        return
    r = cli(*argv)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "cockpit: --review needs `cockpit review`, which this cockpit does not have "
        "(serve an --incident or an --exercise instead)"]
