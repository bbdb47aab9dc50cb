"""Secrets the cockpit holds, in runbooks (issue 17, review F6/F7): a parameter drawn from a
secret part of cockpit.toml is secret by rule; every secret of the configuration is masked
in every step's output (outputs/ and the screen) and refused on a command line."""

from __future__ import annotations

import pytest

from cockpit.journal import Journal, read_incident
from cockpit.redact import MASK
from cockpit.runbooks import RunbookError, launch
from cockpit.runbooks.errors import StepError
from cockpit.runbooks.launch import StartedRun
from cockpit.runbooks.params import secret_source

HEAD = """\
[runbook]
id = "s"
title = "S"
services = ["database"]

[[params]]
name = "pw"
type = "str"
from_config = "{source}"
"""


@pytest.mark.parametrize("source,secret", [
    ("services.database.probes.primary.dsn#password", True),
    ("services.database.probes.primary.dsn#host", False),
    ("services.web.probes.health.token", True),
    ("services.web.probes.health.api_key", True),
    ("services.database.probes.primary.password", True),
    ("services.database.probes.primary.password_env", False),  # a variable's name
    ("services.database.probes.primary.password_file", False),  # a path
    ("services.database.probes.primary.dsn", False),  # checked when it runs (below)
])
def test_secret_by_rule(source, secret):
    assert secret_source(source) is secret


def test_a_password_from_the_config_may_not_reach_argv(make_runbook):
    text = HEAD.format(source="services.database.probes.primary.dsn#password") + """
[[steps]]
id = "cfgpw"
title = "echo it"
command = ["/bin/echo", "dbpw is {pw}"]
destructive = false
"""
    with pytest.raises(RunbookError) as e:
        make_runbook(text)
    msg = str(e.value)
    assert "secret parameter {pw} may only be used in env" in msg
    assert "secret by rule" in msg


def test_a_password_from_the_config_in_env_is_secret(make_runbook):
    rb = make_runbook(HEAD.format(source="services.database.probes.primary.dsn#password") + """
[[steps]]
id = "cfgpw"
title = "use it"
command = ["/bin/sh", "-c", "test -n \\"$PGPASSWORD\\""]
env = { PGPASSWORD = "{pw}" }
destructive = false
""")
    p = rb.param("pw")
    assert p.secret
    rendered = rb.render(rb.step("cfgpw"), {"pw": "S3cr3tCanary"})
    assert rendered.secrets == ("S3cr3tCanary",)
    assert "S3cr3tCanary" not in rendered.display()


CAT = """\
[runbook]
id = "c"
title = "C"
services = ["database"]

[[params]]
name = "file"
type = "path"

[[params]]
name = "dsn"
type = "str"
default = "host=db"

[[steps]]
id = "cat"
title = "Print the app's env file"
command = ["cat", "{file}"]
timeout = "10s"
destructive = false

[[steps]]
id = "connect"
title = "Use the DSN"
command = ["/bin/echo", "{dsn}"]
timeout = "10s"
destructive = false
"""

HELD = ("EnvCanary123", "RedisCanary456", "Quoted Canary13")


def test_a_step_printing_held_secrets_is_masked_in_outputs(make_runbook, state_dir, tmp_path,
                                                          reaper):
    """A diagnostic such as `cat app.env` prints the probes' passwords: masked in the saved
    output (outputs/), counted in step.output, whatever the step's own params are."""
    rb = make_runbook(CAT)
    env_file = tmp_path / "app.env"
    env_file.write_text("DB_PASSWORD=EnvCanary123\nREDIS_PASSWORD=RedisCanary456\n"
                        "QUOTED='Quoted Canary13'\nPLAIN=visible\n")
    j = Journal(state_dir, "sec", author="alice")
    r = launch.start(state_dir, "sec", rb, "cat", {"file": str(env_file)}, author="alice",
                     journal=j, extra_env=reaper.env, mask=HELD)
    assert isinstance(r, StartedRun)
    st = r.wait(timeout=30)
    assert st.state == "succeeded", st
    saved = r.output_path.read_bytes()
    assert saved == (f"DB_PASSWORD={MASK}\nREDIS_PASSWORD={MASK}\nQUOTED='{MASK}'\n"
                     "PLAIN=visible\n").encode()
    out = [e for e in read_incident(state_dir, "sec").entries if e.kind == "step.output"]
    assert out[-1].data["redactions"] == 3 and "3 secret(s) masked" in out[-1].data["detail"]
    job = (state_dir / "incidents" / "sec" / "runs" / f"{r.run}.job.json").read_text()
    assert not any(s in job for s in HELD) and '"n_secrets": 3' in job
    j.close()


def test_a_command_line_carrying_a_held_secret_is_refused(make_runbook, state_dir):
    """A non-secret param whose value holds a secret of the configuration (the whole DSN,
    with its password): refused before anything is journaled or run, dry runs too."""
    rb = make_runbook(CAT)
    j = Journal(state_dir, "sec2", author="alice")
    dsn = "host=db password='Quoted Canary13'"
    for dry in (True, False):
        with pytest.raises(StepError, match="would carry a secret of cockpit.toml"):
            launch.start(state_dir, "sec2", rb, "connect", {"dsn": dsn}, author="alice",
                         journal=j, mask=HELD, dry_run=dry)
    kinds = [e.kind for e in read_incident(state_dir, "sec2").entries]
    assert kinds == ["session-start"]
    j.close()
