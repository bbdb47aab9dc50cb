"""Secret canaries in every placement of the security review (issue 17, channel 6): none
appears on screen, in any state file, in any output, in CLI text or JSON output, or in a
crash report.

One configuration holds them all, against real services on this machine: a PostgreSQL
server (unix socket with trust, so the probes connect and report the node they reached, the
review's leak; TCP with scram for the wrong passwords), a Redis probe on a closed port and
an HTTP server that echoes the request's Authorization header back in its JSON:

* inline DSN passwords: plain, quoted (``'Quoted Canary13'``), ``sslpassword``, URL userinfo;
* ``password_env``, ``password_file`` (PostgreSQL), Redis ``password_env``, HTTP
  ``token_env`` and URL userinfo;
* a runbook parameter drawn from ``...dsn#password`` without ``secret = true`` (secret by
  rule), printed by its step from the environment;
* a step printing a file that holds every canary (``cat app.env``).

(The cockpit has no export yet: signed bundles are not built; nothing to check there.)
"""

from __future__ import annotations

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest

from cockpit.runbooks.state import StepState

from .pty_harness import Pty, cockpit_argv
from .session import closed_port, run_cli

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "probes"))
from probe_servers import make_pg_pair  # noqa: E402

pytestmark = pytest.mark.xdist_group("secret-canaries")

ENV = {"CANARY_ENV": "EnvCanary123", "CANARY_REDIS": "RedisCanary456",
       "CANARY_TOKEN": "TokCanary789"}
FILE_SECRET = "FileCanary246"
CANARIES = ["S3cr3tCanaryPlain", "Quoted Canary13", "SslCanary6", "S3cr3tCanaryUrl",
            "HttpUserCanary", *ENV.values(), FILE_SECRET]
FOLLOWED = "canary incident"


class Echo(BaseHTTPRequestHandler):
    """Answers with the request's Authorization header in the JSON body."""

    def do_GET(self) -> None:  # noqa: N802
        body = json.dumps({"auth": self.headers.get("Authorization", ""),
                           "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _config(d: Path, sock: Path, port: int, echo: int) -> Path:
    (d / "pgpass").write_text(FILE_SECRET + "\n")
    runbooks = d / "runbooks"
    runbooks.mkdir()
    (d / "app.env").write_text("".join(f"SECRET_{i}={c}\n" for i, c in enumerate(CANARIES))
                               + "PLAIN=visible-line\n")
    (runbooks / "canary.toml").write_text(f"""\
[runbook]
id = "canary"
title = "Canary"
services = ["db"]
priority = "P0"

[[params]]
name = "dbpw"
type = "str"
from_config = "services.db.probes.inline.dsn#password"

[[params]]
name = "envfile"
type = "path"
default = "{d / 'app.env'}"

[[steps]]
id = "catenv"
title = "Print the app env file"
command = ["cat", "{{envfile}}"]
timeout = "10s"
destructive = false

[[steps]]
id = "usepw"
title = "Use the DB password"
command = ["/bin/sh", "-c", "echo \\"pw is $DBPW\\""]
env = {{ DBPW = "{{dbpw}}" }}
timeout = "10s"
destructive = false
""")
    base = f"host={sock} port={port} user=postgres dbname=postgres"
    cfg = d / "cockpit.toml"
    cfg.write_text(f"""\
[cockpit]
environment = "canaries"
runbook_dirs = ["{runbooks}"]
allow_inline_secrets = true  # refused by default (issue 10); these prove the masking

[probe_defaults]
interval = "1s"
deadline = "3s"
fail_after = 1

[services.db]
title = "PostgreSQL"
priority = "P0"
rto = "1h"
rpo = "15m"

[[services.db.probes]]
kind = "postgres"
name = "inline"
dsn = "{base} password=S3cr3tCanaryPlain"

[[services.db.probes]]
kind = "postgres"
name = "quoted"
dsn = "{base} password='Quoted Canary13'"

[[services.db.probes]]
kind = "postgres"
name = "ssl"
dsn = "{base} sslpassword=SslCanary6"

[[services.db.probes]]
kind = "postgres"
name = "url"
dsn = "postgresql://postgres:S3cr3tCanaryUrl@/postgres?host={quote(str(sock), safe='')}&port={port}"

[[services.db.probes]]
kind = "postgres"
name = "env"
dsn = "host=127.0.0.1 port={port} user=probe dbname=postgres"
password_env = "CANARY_ENV"

[[services.db.probes]]
kind = "postgres"
name = "file"
dsn = "host=127.0.0.1 port={port} user=probe dbname=postgres"
password_file = "{d / 'pgpass'}"

[services.cache]
title = "Redis"
priority = "P1"

[[services.cache.probes]]
kind = "redis"
name = "cache"
host = "127.0.0.1"
port = {closed_port()}
password_env = "CANARY_REDIS"

[services.web]
title = "Backend API"
priority = "P1"

[[services.web.probes]]
kind = "http"
name = "health"
url = "http://webuser:HttpUserCanary@127.0.0.1:{echo}/health"
token_env = "CANARY_TOKEN"
json = ["auth == ok"]
""")
    return cfg


def _run_steps(cfg: Path, state: Path) -> str:
    """Declare an incident and run both canary steps for real (supervisor, journal)."""
    import time

    from cockpit.config import load_config
    from cockpit.runbooks.claims import load_states
    from cockpit.session.live import LiveSession

    config = load_config(cfg)
    s = LiveSession(config, state, probes=False, runbook_dirs=config.runbook_dirs)
    try:
        iid = s.store.declare(FOLLOWED, "P0", ["db"])
        s.follow(iid)
        lib = s.runbooks.library()
        assert not lib.problems, lib.problems
        rb = lib.library.get("canary")
        assert rb is not None and rb.param("dbpw").secret  # secret by rule
        params = s.runbooks.param_values(rb, None)
        for sid in ("catenv", "usepw"):
            r = s.runbooks.execute(rb, rb.step(sid), params, None, StepState("canary", sid))
            assert not r.warning, r.message
        end = time.monotonic() + 30
        while time.monotonic() < end:
            st = load_states(state, iid, "canary")
            if all(st.get(("canary", x)) and st[("canary", x)].state == "succeeded"
                   for x in ("catenv", "usepw")):
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"the canary steps did not finish: {st}")
    finally:
        s.stop()
    return iid


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("canaries")
    pair = make_pg_pair(with_replica=False)
    echo = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    saved = {k: os.environ.get(k) for k in ENV}
    os.environ.update(ENV)
    try:
        cfg = _config(d, pair.base, pair.primary_port, echo.server_address[1])
        state = d / "state"
        iid = _run_steps(cfg, state)
        env = {**ENV, "XDG_STATE_HOME": str(d / "xdg-state"), "XDG_CONFIG_HOME": str(d / "x"),
               "COCKPIT_CONFIG": "", "COCKPIT_STATE_DIR": ""}
        shown: dict[str, bool] = {}
        with Pty.spawn(cockpit_argv("--config", str(cfg), "--state-dir", str(state)),
                       cols=160, rows=50, env=env) as ck:
            shown["start"] = ck.wait_for("Incident log", 20)
            # every probe answered (the split brain of the four socket probes is counted)
            shown["probes"] = ck.wait_for("split brain", 20)
            for i, sid in enumerate(("db", "cache", "web")):
                if i:
                    ck.press("down", pause=0.05)
                ck.press("enter", pause=0.05)
                shown[f"details-{sid}"] = ck.wait_for(f"Service: {sid}", 8)
                ck.settle(0.2, 2)
                ck.press("escape", pause=0.2)
                ck.wait_for(lambda t, s=sid: f"Service: {s}" not in t, 5)
            ck.press("r", pause=0.05)
            shown["navigator"] = ck.wait_for("Runbooks (ranked)", 8)
            ck.press("tab", pause=0.05)
            shown["catenv-output"] = ck.wait_for("PLAIN=visible-line", 10)
            ck.press("down", pause=0.05)
            shown["usepw-output"] = ck.wait_for("pw is", 10)
            ck.settle(0.3, 2)
            screen_text = ck.text()
            ck.press("escape", pause=0.3)
            # the navigator closed before q (ESC + q in one read would be alt+q)
            shown["navigator-closed"] = ck.wait_for(lambda t: "Runbooks (ranked)" not in t, 10)
            ck.press("q", pause=0.0)
            rc = ck.wait(15)
            raw = bytes(ck.raw)
        cli = {}
        for args in (["status"], ["status", "--json"], ["log", iid], ["log", iid, "--json"],
                     ["log", iid, "--all"], ["verify", iid], ["incident", "list"],
                     ["incident", "list", "--json"]):
            ds = type("DS", (), {"config": cfg, "state": state, "env": lambda self: env})()
            p = run_cli(ds, *args)
            cli[" ".join(args)] = (p.returncode, p.stdout + p.stderr)
        yield {"dir": d, "state": state, "raw": raw, "screen": screen_text, "rc": rc,
               "shown": shown, "cli": cli, "crash": d / "xdg-state", "iid": iid}
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        echo.shutdown()
        pair.close()


def _leaks(data: bytes) -> list[str]:
    found = [c for c in CANARIES if c.encode() in data]
    found += [c for c in CANARIES if quote(c).encode() in data and quote(c) != c]
    return found


def test_the_cockpit_showed_every_place_and_ended_cleanly(run):
    assert all(run["shown"].values()), run["shown"]
    assert run["rc"] == 0
    # what was checked was really there: the masked forms are on screen
    assert "********" in run["screen"]


def test_no_canary_on_screen(run):
    assert _leaks(run["raw"]) == []


def test_no_canary_in_any_state_file(run):
    files = [p for p in run["state"].rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert "probes.toml" in names and any(p.parent.name == "outputs" for p in files)
    assert any(p.name.endswith(".job.json") for p in files)
    leaks = {str(p.relative_to(run["state"])): _leaks(p.read_bytes()) for p in files}
    assert {k: v for k, v in leaks.items() if v} == {}


def test_the_outputs_are_masked_and_say_so(run):
    from cockpit.journal import read_incident

    outs = sorted((run["state"] / "incidents" / run["iid"] / "outputs").glob("*.out"))
    text = b"".join(p.read_bytes() for p in outs).decode()
    assert "PLAIN=visible-line" in text and "pw is ********" in text
    assert text.count("********") == len(CANARIES) + 1
    redactions = [e.data["redactions"] for e in read_incident(run["state"], run["iid"]).entries
                  if e.kind == "step.output"]
    assert sorted(redactions) == [1, len(CANARIES)]


def test_no_canary_in_cli_text_or_json(run):
    leaks = {k: _leaks(v) for k, (_rc, v) in run["cli"].items()}
    assert {k: v for k, v in leaks.items() if v} == {}
    rc = {k: c for k, (c, _v) in run["cli"].items()}
    assert rc["verify " + run["iid"]] == 0 and rc["log " + run["iid"]] == 0
    assert rc["status"] == 2  # the Redis probe is down (closed port)


def test_no_canary_in_a_crash_report(run):
    reports = list(run["crash"].rglob("*"))
    assert {str(p): _leaks(p.read_bytes()) for p in reports if p.is_file()
            and _leaks(p.read_bytes())} == {}
