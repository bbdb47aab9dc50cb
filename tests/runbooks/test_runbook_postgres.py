"""The built-in runbooks' SQL against a real PostgreSQL started by the test: every read-only
psql / pg_isready / pg_dump step (and verify command) of the library runs and exits 0."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile

import pytest
from shared_fakes import require, run_like_the_executor

from cockpit.runbooks import builtin_dir, load_library
from cockpit.runbooks.verify import verify_detail

pytestmark = pytest.mark.service

def _pg_bin() -> str | None:
    """initdb's directory: on PATH (./run puts `pg_config --bindir` there), or Debian's layout."""
    import glob

    found = shutil.which("initdb")
    if found:
        return os.path.dirname(found)
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(d, "initdb")):
            return d
    return None


PG_BIN = _pg_bin()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(*argv: str) -> list[str]:
    return list(argv) if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--", *argv]


@pytest.fixture(scope="module")
def postgres():
    if PG_BIN is None or (os.geteuid() == 0 and not shutil.which("runuser")):
        require(False, "PostgreSQL server binaries (initdb) and runuser")
    base = tempfile.mkdtemp(prefix="rb-pg-", dir="/tmp")
    os.chmod(base, 0o755)
    data = os.path.join(base, "data")
    os.mkdir(data, 0o700)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(data, "postgres")
    port = _free_port()
    subprocess.run(_as_postgres(f"{PG_BIN}/initdb", "-D", data, "-A", "trust", "-U", "postgres",
                                "--data-checksums"),
                   check=True, capture_output=True, timeout=120)
    subprocess.run(_as_postgres(f"{PG_BIN}/pg_ctl", "-D", data, "-w", "-t", "60", "-l",
                                os.path.join(base, "log"), "-o",
                                f"-p {port} -k {base} -c listen_addresses=127.0.0.1", "start"),
                   check=True, capture_output=True, timeout=120)
    subprocess.run(["psql", "-X", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-c",
                    "create table _sqlx_migrations (version bigint primary key, description text)"],
                   check=True, capture_output=True, timeout=30)
    try:
        yield {"port": port, "base": base}
    finally:
        subprocess.run(_as_postgres(f"{PG_BIN}/pg_ctl", "-D", data, "-m", "immediate", "stop"),
                       capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


READ_ONLY_TOOLS = {"psql", "pg_isready", "pg_dump", "pg_amcheck"}
READ_ONLY_SHELL_STEPS = {("database", "amcheck")}  # a shell that finds pg_amcheck, then runs it


def test_library_sql_runs_against_real_postgres(postgres, tmp_path):
    lib = load_library([builtin_dir()])
    given = {"pg_host": "127.0.0.1", "replica_host": "127.0.0.1", "pg_port": postgres["port"],
             "pg_dbname": "postgres", "pg_user": "postgres", "pid": 999999,
             "salvage_file": str(tmp_path / "salvage.dump")}
    ran = []
    verdicts: dict[tuple[str, str], bool] = {}
    for rb in lib:
        params = rb.param_values(given)
        for step in rb.steps:
            targets = [step] if step.command and not step.destructive else []
            if step.verify and step.verify.command:
                targets.append(step.verify)
            for t in targets:
                if rb.missing_params(params, t):
                    continue
                rc = rb.render(t, params)
                shell_ok = (rb.id, step.id) in READ_ONLY_SHELL_STEPS and t is step
                if rc.remote or not shell_ok and (rc.argv[0] not in READ_ONLY_TOOLS
                                                  or not shutil.which(rc.argv[0])):
                    continue
                res, out = run_like_the_executor(rc, tmp_path)
                assert res.exit_code == 0, (rb.id, step.id, out)
                if t is step.verify:
                    verdicts[(rb.id, step.id)] = verify_detail(step.verify, res)[0]
                ran.append((rb.id, step.id))
    assert len(ran) >= 15, ran
    assert ("database", "amcheck") in ran
    # a standalone primary: "not in recovery" verifies pass, "replica streaming" fails
    assert verdicts[("database", "promote-restored")] is True
    assert verdicts[("database", "promote-replica")] is True
    assert verdicts[("database", "rebuild-start-replica")] is False


def test_destructive_sql_steps_on_a_scratch_server(postgres, tmp_path):
    """psql variables fed through stdin (:'role', :"role", \\getenv) work as written."""
    lib = load_library([builtin_dir()])
    port = postgres["port"]
    base = ["psql", "-X", "-At", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-c"]
    subprocess.run([*base, "create role rb_app login password 'old-password'"], check=True,
                   capture_output=True, timeout=30)
    q = [*base, "select rolpassword from pg_authid where rolname = 'rb_app'"]
    before = subprocess.run(q, capture_output=True, text=True, timeout=30).stdout.strip()
    sec = lib.get("security")
    params = sec.param_values({"pg_host": "127.0.0.1", "pg_port": port, "pg_dbname": "postgres",
                               "suspect_role": "rb_app", "app_role": "rb_app",
                               "new_db_password": "n3w-Pa$$word-`id`;\"x\""})
    for step_id in ("end-db-sessions", "rotate-db-password"):
        rc = sec.render(sec.step(step_id), params)
        res, out = run_like_the_executor(rc, tmp_path)
        assert res.exit_code == 0, (step_id, out)
    # the cluster trusts local logins: check the stored SCRAM secret changed
    stored = subprocess.run(q, capture_output=True, text=True, timeout=30).stdout.strip()
    assert stored.startswith("SCRAM-SHA-256$") and stored != before
    dl = lib.get("data-loss")
    rc = dl.render(dl.step("cancel-migration"), dl.param_values(
        {"pg_host": "127.0.0.1", "pg_port": port, "pg_dbname": "postgres", "pid": 999999}))
    r = subprocess.run(rc.argv, env={"PATH": os.environ["PATH"], **rc.env}, capture_output=True,
                       text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0 and "not a PostgreSQL" in r.stderr
