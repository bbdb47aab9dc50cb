"""The library: ranking by failing services, parameter values (typed, from cockpit.toml), and
the built-in runbooks themselves (scenarios of the plan, every command renders, shell syntax)."""

from __future__ import annotations

import subprocess

import pytest

from cockpit.runbooks import (
    Library,
    ParamError,
    collect_library,
    config_value,
    dsn_part,
    load_library,
    load_runbook,
)


def _rb(write, rid: str, services: list[str], priority: str = "P2"):
    text = (f'[runbook]\nid = "{rid}"\ntitle = "{rid}"\nservices = {services!r}\n'
            f'priority = "{priority}"\n\n[[steps]]\nid = "s"\ntitle = "s"\n').replace("'", '"')
    return load_runbook(write(text, f"{rid}.toml"))


def test_rank_by_failing_services(write):
    lib = Library((
        _rb(write, "app", ["backend", "frontend"], "P0"),
        _rb(write, "db", ["database", "backend"], "P0"),
        _rb(write, "infra", ["backend", "database", "redis"], "P1"),
        _rb(write, "dns", ["dns"], "P1"),
        _rb(write, "misc", [], "P3"),
        _rb(write, "cache", ["redis"], "P2"),
    ))
    ids = lambda failing: [r.id for r in lib.rank(failing)]  # noqa: E731
    # most failing services covered first, then priority, then id; the rest follow
    assert ids({"backend", "database", "redis"}) == ["infra", "db", "app", "cache", "dns", "misc"]
    assert ids({"backend"}) == ["app", "db", "infra", "dns", "cache", "misc"]
    assert ids({"dns"})[0] == "dns"
    assert ids(set()) == ["app", "db", "dns", "infra", "cache", "misc"]
    assert ids({"unknown"}) == ids(set())
    # cockpit.toml links (service -> runbooks) add coverage
    # ... and their order decides a tie (M10: the service's own order, not the priority)
    linked = [r.id for r in lib.rank({"dns"}, links={"dns": ["misc", "dns"]})]
    assert linked[:2] == ["misc", "dns"]


def test_builtin_ranking(library_dir):
    lib = load_library([library_dir])
    assert [r.id for r in lib.rank({"database"})][:2] == ["data-loss", "database"]
    assert lib.rank({"stellar"})[0].id == "third-party"
    assert lib.rank({"dns"})[0].id == "third-party"
    assert lib.rank({"frontend"})[0].id == "application"
    assert lib.rank({"backend", "frontend", "database", "redis"})[0].id == "infrastructure"


PLAN = {
    "database": {"crash", "corruption", "total-loss", "replication"},
    "application": {"crash", "memory-leak", "bad-deploy", "config-error", "cache"},
    "security": {"breach", "ddos", "unauthorized-access", "malware"},
    "infrastructure": {"hardware", "network", "cloud-outage"},
    "third-party": {"stellar", "dns-outage", "external-api"},
    "data-loss": {"accidental-deletion", "backup-failure", "migration-error", "data-corruption"},
    "restore-drill": set(),  # the restore drill of the testing schedule (issue 15)
}

# A value for every parameter without a default in the built-in library.
SAMPLE = {
    "pg_host": "db1.internal", "replica_host": "db2.internal", "health_url": "https://api.example/health",
    "release": "2024-05-01_1200", "bad_release": "2024-05-02_0900", "redis_host": "cache1.internal",
    "target_time": "2024-05-01 13:59:00+00", "table": "public.transactions", "pid": 4242,
    "target_host": "db1.internal", "instance_id": "i-0123456789abcdef0", "zone_id": "Z0123456789ABC",
    "record_name": "api.stellar-insights.com", "dr_target": "dr-lb.us-west-2.elb.amazonaws.com",
    "primary_target": "lb.us-east-1.elb.amazonaws.com", "block_cidr": "203.0.113.0/24",
    "suspect_user": "mallory", "suspect_role": "intruder", "new_db_password": "x" * 24,
    "quarantine_sg": "sg-0123456789abcdef0", "original_sg": "sg-0fedcba987654321f",
    "iam_user": "ci-deployer", "access_key_id": "AKIAABCDEFGHIJKLMNOP",
    "horizon_fallback": "https://horizon.example.org", "api_url": "https://api.partner.example/status",
    "api_host": "api.partner.example",
}


@pytest.fixture(scope="module")
def library():
    from cockpit.runbooks import builtin_dir

    return load_library([builtin_dir()])


def test_plan_scenarios_are_covered(library):
    assert {r.id for r in library} == set(PLAN)
    for rb in library:
        assert {s.id for s in rb.scenarios} == PLAN[rb.id]
        for sc in rb.scenarios:
            assert len(rb.steps_for(sc.id)) >= 3, (rb.id, sc.id)


def test_every_command_renders_and_shell_parses(library):
    for rb in library:
        params = rb.param_values(SAMPLE)
        assert rb.check_params(params) == {}, rb.id
        for step in rb.steps:
            targets = [step] + ([step.rollback] if step.rollback and step.rollback.command else [])
            targets += [step.verify] if step.verify and step.verify.command else []
            for t in targets:
                if getattr(t, "command", None) is None:
                    continue
                argv = rb.render_argv(t, params)
                if argv[0] == "/bin/sh":
                    r = subprocess.run(["/bin/sh", "-n", "-c", argv[2]], capture_output=True)
                    assert r.returncode == 0, (rb.id, step.id, r.stderr)
            remote = rb.render_argv(step, {**params, "db_ssh": "ops@db1", "app_ssh": "ops@app1",
                                           "replica_ssh": "ops@db2", "host_ssh": "ops@h",
                                           "redis_ssh": "ops@r"}) if step.command else None
            if remote and remote[0] == "ssh":
                r = subprocess.run(["/bin/sh", "-n", "-c", remote[-1]], capture_output=True)
                assert r.returncode == 0, (rb.id, step.id, r.stderr)


def test_destructive_steps_have_a_confirmation(library):
    n = 0
    for rb in library:
        params = rb.param_values(SAMPLE)
        for step in rb.steps:
            if step.destructive:
                n += 1
                token = rb.confirmation_token(step, params)
                assert token and "{" not in token, (rb.id, step.id)
            else:
                assert rb.confirmation_token(step, params) is None
    assert n >= 30


def test_secrets_never_in_argv(library):
    for rb in library:
        params = {**rb.param_values(SAMPLE), "pg_password": "S3CRET-pg", "redis_password": "S3CRET-r"}
        for step in rb.steps:
            if step.command is None:
                continue
            rc = rb.render(step, params)
            assert not any("S3CRET" in a for a in rc.argv), (rb.id, step.id)


def test_no_terminal_control_characters_in_library(library_dir):
    import re

    for f in library_dir.glob("*.toml"):
        text = f.read_text("utf-8")
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]", text), f


# ---------------------------------------------------------------- parameters


@pytest.mark.parametrize("ptype,value,expected", [
    ("int", "42", "42"), ("int", 7, "7"), ("port", 5432, "5432"), ("bool", True, "true"),
    ("bool", "no", "false"), ("duration", "1h30m", "5400"), ("duration", "250ms", "0.25"),
    ("host", "db1.internal", "db1.internal"), ("host", "10.0.0.5", "10.0.0.5"),
    ("host", "::1", "::1"), ("path", "/var/lib/x y", "/var/lib/x y"), ("str", "a\nb", "a\nb"),
])
def test_param_coercion(ptype, value, expected):
    from cockpit.runbooks import Param

    assert Param("p", ptype).coerce(value) == expected


@pytest.mark.parametrize("ptype,value", [
    ("int", "4x"), ("int", True), ("port", 0), ("port", 70000), ("bool", "maybe"),
    ("duration", "soon"), ("host", "-oProxyCommand=x"), ("host", "a b"), ("host", "db1\n"),
    ("path", "-rf"), ("path", "/a\nb"), ("path", ""), ("str", "a\x00b"), ("enum", "c"),
])
def test_param_rejections(ptype, value):
    from cockpit.runbooks import Param

    with pytest.raises(ParamError):
        Param("p", ptype, choices=("a", "b")).coerce(value)


def test_pattern_enforced():
    from cockpit.runbooks import Param

    p = Param("backup", "str", pattern="LATEST|base_[0-9A-F]{24}")
    assert p.coerce("LATEST") == "LATEST"
    with pytest.raises(ParamError, match="pattern"):
        p.coerce("LATEST; rm -rf /")


CONFIG = {
    "services": {
        "database": {"probes": [
            {"name": "primary", "kind": "postgres",
             "dsn": "postgresql://app:p%40ss@db1.internal:6432/stellar_insights"},
            {"name": "kv", "kind": "postgres", "dsn": "host=db2 port=5433 dbname=x user=u"},
        ]},
        "redis": {"probes": [{"name": "redis", "kind": "redis", "url": "redis://:pw@cache1:6380/0"}]},
    },
}


def test_config_values_and_dsn_parts():
    assert config_value(CONFIG, "services.database.probes.primary.dsn#host") == "db1.internal"
    assert config_value(CONFIG, "services.database.probes.primary.dsn#port") == "6432"
    assert config_value(CONFIG, "services.database.probes.primary.dsn#password") == "p@ss"
    assert config_value(CONFIG, "services.database.probes.kv.dsn#dbname") == "x"
    assert config_value(CONFIG, "services.database.probes.0.kind") == "postgres"
    assert config_value(CONFIG, "services.nope.probes.primary.dsn#host") is None
    assert dsn_part("redis://:pw@cache1:6380/0", "port") == "6380"


def test_config_object_is_understood_too():
    from cockpit.config import ProbeConfig, ServiceConfig

    probe = ProbeConfig("primary", "postgres", 15, 5, 3, 2,
                        {"dsn": "postgresql://u@db9:5432/d"})
    cfg = {"services": {"database": ServiceConfig("database", "DB", "P0", None, None,
                                                  probes=(probe,))}}
    assert config_value(cfg, "services.database.probes.primary.dsn#host") == "db9"


def test_param_values_precedence(library):
    rb = library.get("database")
    vals = rb.param_values({"pg_port": 7000}, CONFIG)
    assert vals["pg_host"] == "db1.internal"          # from cockpit.toml
    assert vals["pg_port"] == 7000                     # given wins over config
    assert vals["pg_password"] == ""                   # secrets never come from cockpit.toml
    assert vals["pg_dbname"] == "stellar_insights"
    assert "replica_host" not in vals                  # nothing known: asked for
    step = rb.step("replication-on-replica")
    assert [p.name for p in rb.missing_params(vals, step)] == ["replica_host"]
    rc = rb.render(rb.step("isready"), vals)
    assert rc.argv == ("pg_isready", "-h", "db1.internal", "-p", "7000", "-d",
                       "stellar_insights", "-t", "5")


def test_confirmation_token_from_param(library):
    rb = library.get("application")
    step = rb.step("restart")
    assert rb.confirmation_token(step, {"unit": "stellar-insights-frontend"}) == "stellar-insights-frontend"
    assert rb.confirmation_token(rb.step("redis-restart"), {}) == "redis"


def test_broken_file_does_not_hide_the_others(tmp_path, library_dir):
    import shutil

    for f in library_dir.glob("*.toml"):
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "broken.toml").write_text("[runbook\n", encoding="utf-8")
    lib, errors = collect_library([tmp_path])
    assert len(lib) == 7 and len(errors) == 1 and "broken.toml:1:" in errors[0].one_line()


def test_list_and_show(cli, capsys, library_dir):
    assert cli("runbooks", "list", "--failing", "stellar") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("* third-party")
    assert cli("runbooks", "show", "database", "--scenario", "crash", "-p", "pg_host=db1") == 0
    out = capsys.readouterr().out
    assert "| pg_isready -h db1 -p 5432" in out and "DESTRUCTIVE" not in out
    assert cli("runbooks", "show", "database", "--exact", "-p", "pg_host=db1",
               "-p", "db_ssh=ops@db1") == 0
    out = capsys.readouterr().out
    assert "$ ssh -o BatchMode=yes -o ConnectTimeout=10 -T -- ops@db1 'systemctl status" in out


def test_from_config_paths_match_the_example_config(library, library_dir):
    """Every from_config path of the library that the example cockpit.toml can answer does."""
    import tomllib

    example = library_dir.parent / "cockpit.example.toml"
    if not example.is_file():
        pytest.skip("no cockpit.example.toml")
    config = tomllib.loads(example.read_text("utf-8"))
    found = {}
    for rb in library:
        vals = rb.param_values({}, config)
        for p in rb.params:
            if p.from_config and config_value(config, p.from_config) is not None:
                found[(rb.id, p.name)] = vals[p.name]
                p.coerce(vals[p.name])  # the config's value fits the parameter's type
    assert found.get(("database", "pg_host")) == "db-1.internal"
    assert found.get(("database", "replica_host")) == "db-2.internal"
    assert found.get(("application", "redis_host")) == "redis-1.internal"
    assert found.get(("third-party", "horizon_url")) == "https://horizon.stellar.org"
    assert found.get(("third-party", "resolvers")) == "1.1.1.1 8.8.8.8 9.9.9.9"
