"""The application runbook's Redis steps against a real redis-server started by the test,
with a password passed only through REDISCLI_AUTH."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import pytest
from shared_fakes import require

from cockpit.runbooks import builtin_dir, load_library

pytestmark = pytest.mark.service


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    if not (shutil.which("redis-server") and shutil.which("redis-cli")):
        require(False, "redis-server and redis-cli")
    d = tmp_path_factory.mktemp("redis")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                             "--dir", str(d), "--requirepass", "pw;$(id)'x", "--save", ""],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield port
    proc.terminate()
    proc.wait(timeout=10)


def test_redis_steps_and_verifies(redis_server):
    rb = load_library([builtin_dir()]).get("application")
    params = rb.param_values({"redis_host": "127.0.0.1", "redis_port": redis_server,
                              "redis_password": "pw;$(id)'x"})
    for step_id in ("redis-ping", "redis-info", "redis-save"):
        step = rb.step(step_id)
        rc = rb.render(step, params)
        assert "pw;$(id)'x" not in " ".join(rc.argv)
        r = subprocess.run(rc.argv, env={"PATH": os.environ["PATH"], **rc.env},
                           capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        assert r.returncode == 0 and "NOAUTH" not in r.stdout, (step_id, r.stdout, r.stderr)
        if step.verify and step.verify.command:
            for _ in range(50):  # bgsave finishes in the background
                v = rb.render(step.verify, params)
                vr = subprocess.run(v.argv, env={"PATH": os.environ["PATH"], **v.env},
                                    capture_output=True, text=True, timeout=30)
                if step.verify.passed(vr.returncode, vr.stdout):
                    break
                time.sleep(0.1)
            assert step.verify.passed(vr.returncode, vr.stdout), (step_id, vr.stdout)
    # a wrong password fails the verify gate
    bad = rb.render(rb.step("redis-ping").verify, {**params, "redis_password": "nope"})
    r = subprocess.run(bad.argv, env={"PATH": os.environ["PATH"], **bad.env},
                       capture_output=True, text=True, timeout=30)
    assert not rb.step("redis-ping").verify.passed(r.returncode, r.stdout)
