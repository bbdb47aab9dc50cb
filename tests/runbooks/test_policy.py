"""One execution policy: ``cockpit runbooks validate`` refuses exactly what the executor would
refuse at execution (table-driven over every forbidden environment name and every
destructive hint)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit.runbooks import RunbookError, load_runbook
from cockpit.runbooks.errors import StepError
from cockpit.runbooks.launch import start
from cockpit.runbooks.model import CommandSpec, Runbook, Step
from cockpit.runbooks.policy import FORBIDDEN_ENV, FORBIDDEN_ENV_PREFIXES
from cockpit.runbooks.process import command_env

# Written out (not read from the policy): dropping a name from the policy must fail here.
REFUSED = ["BASH_ENV", "ENV", "IFS", "SHELLOPTS", "BASHOPTS", "PS4", "PROMPT_COMMAND",
           "GLOBIGNORE", "CDPATH", "PYTHONSTARTUP", "PYTHONPATH", "PYTHONHOME", "PERL5OPT",
           "NODE_OPTIONS", "COCKPIT_RUN_ID", "LD_PRELOAD", "LD_LIBRARY_PATH", "BASH_FUNC_x%%",
           "DYLD_INSERT_LIBRARIES", "COCKPIT_SECRET_0", "1BAD", "A-B"]
ENV_NAMES = REFUSED + ["OK_NAME", "PATHX", "LANGUAGE"]


def test_the_table_covers_the_policy():
    assert set(REFUSED) >= FORBIDDEN_ENV
    assert all(any(n.startswith(p) for n in REFUSED) for p in FORBIDDEN_ENV_PREFIXES)

# One command per destructive hint of the policy, and commands that only look alike.
HINTS = [
    ("rm", ["rm", "-f", "/tmp/x"]), ("rmdir", ["rmdir", "/tmp/x"]), ("dd", ["dd", "if=a"]),
    ("mkfs", ["mkfs.ext4", "/dev/x"]), ("wipefs", ["wipefs", "-a"]), ("shred", ["shred", "f"]),
    ("truncate", ["truncate", "-s0", "f"]), ("mv", ["mv", "a", "b"]), ("dropdb", ["dropdb", "x"]),
    ("pg_resetwal", ["pg_resetwal", "d"]), ("pg_rewind", ["pg_rewind", "d"]),
    ("kill", ["kill", "1"]), ("pkill", ["pkill", "x"]), ("killall", ["killall", "x"]),
    ("reboot", ["reboot"]), ("shutdown", ["shutdown", "now"]), ("poweroff", ["poweroff"]),
    ("halt", ["halt"]), ("iptables", ["iptables", "-A", "INPUT"]),
    ("nft", ["nft", "add", "rule"]), ("ufw", ["ufw", "deny", "22"]),
    ("promote", ["pg_ctl", "promote"]), ("pg_promote", ["psql", "-c", "select pg_promote()"]),
    ("backup-fetch", ["wal-g", "backup-fetch", "d", "LATEST"]),
    ("wal-g delete", ["wal-g", "delete", "retain", "3"]),
    ("systemctl stop", ["systemctl", "stop", "postgresql"]),
    ("drop table", ["psql", "-c", "drop table t"]), ("delete from", ["psql", "-c", "delete from t"]),
    ("flushall", ["redis-cli", "flushall"]), ("redis shutdown", ["redis-cli", "shutdown"]),
    ("s3 rm", ["aws", "s3", "rm", "s3://b/k"]), ("git reset", ["git", "reset", "--hard"]),
    ("ln -f", ["ln", "-sf", "a", "b"]), ("pg_terminate_backend", ["psql", "-c",
                                                                   "select pg_terminate_backend(1)"]),
    ("sed -i", ["sed", "-i", "s/a/b/", "f"]),
    ("harmless", ["echo", "firmware", "promotion"]), ("harmless2", ["pg_isready", "-h", "db"]),
]


def _runbook_file(tmp_path: Path, step_lines: str) -> Path:
    p = tmp_path / "rb.toml"
    p.write_text('[runbook]\nid = "rb"\ntitle = "RB"\nservices = ["database"]\n\n'
                 f'[[steps]]\nid = "s"\ntitle = "S"\n{step_lines}\n')
    return p


def _validates(path: Path) -> bool:
    try:
        load_runbook(path)
        return True
    except RunbookError:
        return False


@pytest.mark.parametrize("name", ENV_NAMES)
def test_environment_names_same_verdict_from_validator_and_executor(tmp_path, name):
    path = _runbook_file(tmp_path, f'command = ["true"]\ndestructive = false\n'
                                   f'env = {{ "{name}" = "v" }}')
    valid = _validates(path)
    spec = CommandSpec(argv=("true",), env=((name, "v"),))
    rb = Runbook("rb", "RB", "", ("database",), (), (), (Step("s", "S", command=spec),))
    try:
        command_env(rb.render(rb.steps[0], {}))
        runs = True
    except StepError:
        runs = False
    assert valid == runs, f"{name}: validate says {valid}, the executor says {runs}"
    assert valid == (name in ("OK_NAME", "PATHX", "LANGUAGE"))


@pytest.mark.parametrize(("hint", "argv"), HINTS, ids=[h for h, _ in HINTS])
@pytest.mark.parametrize("stated", [None, False, True])
def test_destructive_hints_same_verdict_from_validator_and_executor(tmp_path, hint, argv,
                                                                    stated):
    """A command that looks destructive must say ``destructive = ...``: the validator refuses
    it otherwise, and the executor refuses to run such a step (loaded from anywhere)."""
    import json

    line = f"command = {json.dumps(argv)}"
    if stated is not None:
        line += f"\ndestructive = {'true' if stated else 'false'}"
    valid = _validates(_runbook_file(tmp_path, line))
    step = Step("s", "S", command=CommandSpec(argv=tuple(argv)), destructive=bool(stated),
                destructive_stated=stated is not None)
    rb = Runbook("rb", "RB", "", ("database",), (), (), (step,))
    try:
        start(tmp_path / "state", "20270101-000000-x-0000", rb, step, {}, author="t",
              dry_run=True)
        runs = True
    except StepError:
        runs = False
    assert valid == runs, f"{hint}: validate says {valid}, the executor says {runs}"
    looks = not hint.startswith("harmless")
    assert valid == (not looks or stated is not None)
