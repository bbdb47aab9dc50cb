"""Every CLI command over the hostile state directories, table-driven: its stdout and stderr
(text and --json) hold no raw C0 control (but newline and tab), C1, bidi or zero-width
character and no escape sequence from untrusted input; it exits as documented (README:
0 on success, ``status`` 0/1/2, ``verify`` and ``log`` 1 on a damaged journal or one that
holds unreadable records (hash-valid, not well-formed), 2 for a refused command), never
with a traceback; ``--json`` output parses.

Colours are forced on (``FORCE_COLOR=1``), as on a terminal, so Rich's own SGR codes are
in the output (the scanner knows them)."""

from __future__ import annotations

import json

import pytest

from . import datasets
from . import hostile_writer as hw
from .cli_server import CliServer
from .payloads import MARKERS_ALL
from .pty_harness import scan, summary
from .session import FOLLOWED, Dataset, declared, run_cli

# name: (argv with {id} for the incident, accepted exit codes, output is JSON lines)
COMMANDS: dict[str, tuple[list[str], set[int], bool]] = {
    "log": (["log", "{id}"], {0}, False),
    "log-json": (["log", "{id}", "--json"], {0}, True),
    "log-all": (["log", "{id}", "--all"], {0}, False),
    "verify": (["verify", "{id}"], {0}, False),
    "verify-heads": (["verify", "{id}", "--heads"], {0}, False),
    "incident-list": (["incident", "list"], {0}, False),
    "incident-list-json": (["incident", "list", "--json"], {0}, True),
    "status": (["status"], {2}, False),  # both services are down (closed port)
    "status-json": (["status", "--json"], {2}, True),
    "runbooks-list": (["runbooks", "list"], {0}, False),
    "runbooks-list-failing": (["runbooks", "list", "--failing", "database,backend"], {0}, False),
    "runbooks-show": (["runbooks", "show", "database"], {0}, False),
    # commands that write: a refused transition is a documented exit 2, not a crash
    "incident-note": (["incident", "note", "{id}", "seen", "--type", "action"], {0}, False),
    "incident-assign": (["incident", "assign", "{id}", "scribe", "carol"], {0}, False),
    "incident-status": (["incident", "status", "{id}", "mitigated"], {0, 2}, False),
    # exercises live apart: over these incidents they list nothing and refuse the id
    "exercise-list": (["exercise", "list"], {0}, False),
    "exercise-list-json": (["exercise", "list", "--json"], {0}, True),
    "exercise-report": (["exercise", "report", "{id}"], {2}, False),
    # the evidence commands: the review (Markdown on stdout), metrics, a bundle and its check
    "pir": (["pir", "{id}"], {0}, False),
    "metrics": (["metrics"], {0}, False),
    "metrics-json": (["metrics", "--json"], {0}, True),
    "capture": (["capture", "{id}", "-o", "{out}"], {0}, False),
    # sync is off in these configurations: a documented refusal, one line
    "sync": (["sync", "--once", "{id}"], {2}, False),
    # drills live apart too: over these incidents no drill ever ran (exit 1: overdue)
    "drills": (["drills"], {1}, False),
    "drills-json": (["drills", "--json"], {1}, True),
    "drills-log": (["drills", "log"], {0}, False),
}

# the wrong-type groups of test_hostile_records, one incident each
GROUPS = {
    "declared": ["incident.declared"],
    "status-updated": ["incident.status", "incident.updated"],
    "role-note-health": ["role.assigned", "note", "health"],
    "session-recovered-unknown": ["session-start", "recovered", "x.unknown"],
    "steps": list(hw.STEP_FIELDS),
}


def group_incident(group: str) -> str:
    return f"20990101-000000-wrong-{group}"


def wrong_types_dataset(base) -> Dataset:
    ds = Dataset.new(base)
    n = 0
    for group, kinds in GROUPS.items():
        inc = group_incident(group)
        ds.before.append((inc, declared(f"wrong types: {group}")))
        for c in hw.wrong_type_cases(kinds, start=n, one_at_a_time=group != "steps"):
            ds.before.append((inc, c))
        n = int(ds.before[-1][1].tag[1:]) + 1 if ds.before[-1][1].tag else n
    return ds


def envelopes_dataset(base) -> Dataset:
    ds = datasets.envelopes(base)
    ds.before += ds.after  # the good record after the damaged ones, before any command
    ds.after = []
    return ds


# ``log`` and ``verify`` on a journal that holds unreadable records (every dataset but
# cli-fields has records the CLI refuses): they show everything, and exit 1.
UNREADABLE_CODES = {"log": {1}, "log-json": {1}, "log-all": {1}, "verify": {1},
                    "verify-heads": {1}}
HAS_UNREADABLE = {"every-field", "wrong-types", "envelopes"}

# (dataset, command) -> reason: the review's holes here are fixed (issue 17)
XFAIL: dict[tuple[str, str], str] = {}
XFAIL_GROUP: dict[tuple[str, str], str] = {}


@pytest.fixture(scope="module")
def state(tmp_path_factory):
    """The datasets, written once per worker (no cockpit runs on them here)."""
    out = {}
    for name, make in (("cli-fields", datasets.cli_fields), ("every-field", datasets.every_field),
                       ("wrong-types", wrong_types_dataset), ("envelopes", envelopes_dataset)):
        ds = make(tmp_path_factory.mktemp(f"cli-{name}"))
        ds.write_before()
        ds.write_after()
        ds.close()
        out[name] = ds
    return out


@pytest.fixture(scope="module")
def cli():
    server = CliServer()
    yield server
    server.close()


def check(cli: CliServer, ds: Dataset, name: str, incident: str = FOLLOWED,
          codes: set[int] | None = None, unreadable: bool = False) -> list[str]:
    argv, documented, is_json = COMMANDS[name]
    if unreadable:
        documented = UNREADABLE_CODES.get(name, documented)
    codes = documented if codes is None else codes
    out = ds.state.parent / f"bundle-{name}-{incident}.tar"
    argv = [a.replace("{id}", incident).replace("{out}", str(out)) for a in argv]
    p = run_cli(ds, *argv, server=cli)
    problems = []
    where = f"cockpit {' '.join(argv)}"
    if p.returncode not in codes:
        problems.append(f"{where}: exit {p.returncode}, documented {sorted(codes)}")
    for stream, data in (("stdout", p.stdout), ("stderr", p.stderr)):
        text = data.decode("utf-8", "replace")
        if "Traceback" in text or "internal error" in text:
            problems.append(f"{where}: {stream} has a traceback: {text[-600:]!r}")
        found = scan(data, MARKERS_ALL, allow_c0="\n\t", allow_crlf=False)
        if found:
            problems.append(f"{where}: {stream}: {summary(found, 6)}")
    if is_json and p.returncode in codes:
        for line in p.stdout.decode("utf-8", "replace").splitlines():
            if line.strip():
                try:
                    json.loads(line) if not name.startswith("status") else None
                except ValueError as e:
                    problems.append(f"{where}: not JSON lines ({e}): {line[:200]!r}")
        if name.startswith("status"):
            try:
                json.loads(p.stdout)
            except ValueError as e:
                problems.append(f"{where}: not JSON ({e})")
    return problems


def _params(dataset: str, commands):
    for c in commands:
        marks = []
        if (dataset, c) in XFAIL:
            marks.append(pytest.mark.xfail(strict=True, reason=XFAIL[(dataset, c)]))
        yield pytest.param(dataset, c, marks=marks, id=f"{dataset}-{c}")


# status and runbooks read no journal: once, on the first dataset
NO_JOURNAL = ("sync", "status", "status-json", "runbooks-list", "runbooks-list-failing", "runbooks-show",
              "exercise-list", "exercise-list-json", "exercise-report")


@pytest.mark.parametrize("dataset,command", [
    *_params("cli-fields", COMMANDS),
    *_params("every-field", [c for c in COMMANDS if c not in NO_JOURNAL])])
def test_command_output_is_clean(cli, state, dataset, command):
    problems = check(cli, state[dataset], command, unreadable=dataset in HAS_UNREADABLE)
    assert not problems, "\n".join(problems)


# per group: the reads, and one write (every write folds the incident first)
GROUP_COMMANDS = ["log", "log-json", "log-all", "verify", "incident-note"]


def _group_params():
    for group in GROUPS:
        for c in GROUP_COMMANDS:
            marks = []
            if (group, c) in XFAIL_GROUP:
                marks.append(pytest.mark.xfail(strict=True, reason=XFAIL_GROUP[(group, c)]))
            yield pytest.param(group, c, marks=marks, id=f"{group}-{c}")


@pytest.mark.parametrize("group,command", _group_params())
def test_command_on_wrong_typed_records(cli, state, group, command):
    """The hostile-writer acceptance, per command: records with every field of the group's
    kinds of the wrong type (one incident per group)."""
    problems = check(cli, state["wrong-types"], command, group_incident(group),
                     unreadable=True)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("command", ["incident-list", "incident-list-json"])
def test_incident_list_over_wrong_typed_records(cli, state, command):
    problems = check(cli, state["wrong-types"], command)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("command", [
    "log", "log-json", "log-all", "verify", "verify-heads", "incident-list",
    "incident-list-json", "incident-note"])
def test_command_on_wrong_typed_envelopes(cli, state, command):
    """Records whose kind/author/ts/data have the wrong type: unreadable records (``log``
    and ``verify`` exit 1 and name them), never a crash; the record after them is read."""
    problems = check(cli, state["envelopes"], command, unreadable=True)
    assert not problems, "\n".join(problems)


def test_verify_names_each_unreadable_record(cli, state):
    """``verify``: "unreadable record from WRITER seq N: reason", one line per record the
    second writer made wrong; a clean journal is OK."""
    p = run_cli(state["envelopes"], "verify", FOLLOWED, server=cli)
    lines = p.stdout.decode().splitlines()
    named = [x for x in lines if x.startswith("unreadable record from w-mallory-")]
    assert p.returncode == 1 and len(named) == len(hw.ENVELOPE_CASES), lines
    assert lines[-1].startswith(f"NOT OK: {len(hw.ENVELOPE_CASES)} unreadable records")
    p = run_cli(state["cli-fields"], "verify", FOLLOWED, server=cli)
    assert p.returncode == 0 and p.stdout.startswith(b"OK: "), p.stdout[-300:]


def test_the_fork_server_gives_what_a_real_process_gives(cli, state):
    """The fork server is a shortcut: the same bytes and exit code as ``cockpit`` run as a
    new process, for a clean and a crashing command."""
    ds = state["wrong-types"]
    for argv in (["log", FOLLOWED], ["status", "--json"],
                 ["log", group_incident("declared")]):
        a, b = run_cli(ds, *argv, server=cli), run_cli(ds, *argv)
        assert a.returncode == b.returncode, argv
        assert a.stdout == b.stdout or argv[0] == "status", argv  # status: times differ
        assert (b"Traceback" in a.stderr) == (b"Traceback" in b.stderr), argv


def test_the_tables_cover_every_command():
    """Every subcommand of ``cockpit --help`` that reads the state is in the table."""
    from cockpit.cli.main import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    # TUIs (demo, observe, serve's per-browser cockpit, review) are run by the pty harness
    # (the review: test_review_hostile.py)
    tops = set(sub.choices) - {"demo", "observe", "serve", "review"}
    covered = {COMMANDS[c][0][0] for c in COMMANDS}
    assert tops <= covered, tops - covered
