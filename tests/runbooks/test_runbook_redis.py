"""The application runbook's Redis steps against a real redis-server started by the test,
with a password passed only through REDISCLI_AUTH."""

from __future__ import annotations

import shutil
import time

import pytest
from shared_fakes import require, start_redis

from cockpit.journal import Journal
from cockpit.runbooks import builtin_dir, launch, load_library, verify

pytestmark = pytest.mark.service


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    if not (shutil.which("redis-server") and shutil.which("redis-cli")):
        require(False, "redis-server and redis-cli")
    proc, port = start_redis(tmp_path_factory.mktemp("redis"), password="pw;$(id)'x")
    yield port
    proc.terminate()
    proc.wait(timeout=10)


def test_redis_steps_and_verifies(redis_server, tmp_path):
    """The application runbook's Redis steps run by the executor (supervisor, secure PATH,
    the password only in REDISCLI_AUTH), and their verifies judged by the cockpit's own
    verify path."""
    rb = load_library([builtin_dir()]).get("application")
    params = rb.param_values({"redis_host": "127.0.0.1", "redis_port": redis_server,
                              "redis_password": "pw;$(id)'x"})
    state, iid = tmp_path / "state", "20270101-000000-redis-0001"
    journal = Journal(state, iid, author="alice")
    for step_id in ("redis-ping", "redis-info", "redis-save"):
        step = rb.step(step_id)
        assert "pw;$(id)'x" not in " ".join(rb.render(step, params).argv)
        run = launch.start(state, iid, rb, step, params, author="alice", journal=journal)
        st = run.wait(timeout=60)
        out = run.output_path.read_text()
        assert st is not None and st.state == "succeeded", (step_id, st, out)
        assert "NOAUTH" not in out and "pw;$(id)'x" not in out, (step_id, out)
        if step.verify and step.verify.command:
            for _ in range(50):  # bgsave finishes in the background
                v = verify.run_verify(state, iid, rb, step, params, author="alice",
                                      journal=journal)
                if v.passed:
                    break
                time.sleep(0.1)
            assert v.passed, (step_id, v.detail)
    # a wrong password fails the verify gate
    bad = verify.run_verify(state, iid, rb, "redis-ping", {**params, "redis_password": "nope"},
                            author="alice", journal=journal)
    assert not bad.passed, bad.detail
    journal.close()
