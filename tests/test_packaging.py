"""The package installs as a tool: a wheel built from this checkout, installed into a fresh
virtual environment and run from outside the checkout, has the built-in runbooks and
scenarios, starts its demo, and puts no top-level ``screens`` module into site-packages.

No network: the wheel is built without build isolation, and the fresh environment borrows
the test environment's third-party packages through a path file (not its site dir, so the
editable install of this checkout is not visible there)."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import pytest

from benchmarks.tui import spawn

ROOT = Path(__file__).resolve().parent.parent
# one worker builds the wheel (pip builds in the checkout's build/: two at once collide)
pytestmark = pytest.mark.xdist_group("packaging")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    base = tmp_path_factory.mktemp("wheel")
    dist = base / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(dist), str(ROOT)], capture_output=True, text=True, cwd=base,
        env={**os.environ, "PIP_NO_INDEX": "1"})
    assert build.returncode == 0, build.stderr[-3000:]
    wheel = next(dist.glob("dr_cockpit-*.whl"))
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()"
                                "['purelib'])"], capture_output=True, text=True,
                               check=True).stdout.strip())
    (site / "borrowed_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    inst = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q",
                           "--no-deps", "--no-index", str(wheel)], capture_output=True,
                          text=True, env={**os.environ, "PIP_NO_INDEX": "1"})
    assert inst.returncode == 0, inst.stderr[-3000:]
    return wheel, venv, base


def run(venv: Path, cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["HOME"] = str(cwd)
    return subprocess.run(list(argv), capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=120)


def test_the_wheel_holds_the_ui_and_the_library_under_the_projects_namespace(installed):
    wheel, _venv, _base = installed
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/", 1)[0] for n in names if not n.startswith("dr_cockpit-")}
    assert tops == {"cockpit"}, tops
    for needed in ("cockpit/screens/app.py", "cockpit/screens/cockpit.tcss",
                   "cockpit/runbooks/builtin/database.toml",
                   "cockpit/runbooks/builtin/exercises/database-loss.toml",
                   "cockpit/runbooks/supervisor.py", "cockpit/screens/serve.html"):
        assert needed in names, needed


def test_the_installed_cockpit_works_outside_the_checkout(installed, tmp_path):
    _wheel, venv, _base = installed
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cockpit = str(venv / "bin" / "cockpit")
    out = run(venv, elsewhere, cockpit, "runbooks", "list")
    assert out.returncode == 0, out.stderr
    ids = {line.split()[0] for line in out.stdout.splitlines() if line.strip()}
    assert ids == {"application", "data-loss", "database", "infrastructure", "security",
                   "third-party", "restore-drill"}
    where = run(venv, elsewhere, str(venv / "bin" / "python"), "-c",
                "import cockpit; print(cockpit.__file__, cockpit.__version__)")
    assert str(venv) in where.stdout and "unknown" not in where.stdout, where.stdout
    nope = run(venv, elsewhere, str(venv / "bin" / "python"), "-c", "import screens")
    assert nope.returncode != 0 and "No module named 'screens'" in nope.stderr
    ok = run(venv, elsewhere, cockpit, "runbooks", "validate")
    assert ok.returncode == 0 and "7 runbooks" in ok.stdout, ok.stdout + ok.stderr
    ex = run(venv, elsewhere, cockpit, "exercise", "validate")  # the scenario library
    assert ex.returncode == 0 and "6 scenario files: all valid" in ex.stdout, ex.stdout + ex.stderr


def test_the_installed_demo_starts(installed, tmp_path):
    _wheel, venv, _base = installed
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["HOME"] = str(tmp_path)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        s = spawn([str(venv / "bin" / "cockpit"), "demo", "--paused"], cols=100, rows=30,
                  env=env)
        try:
            assert s.wait_for(lambda t: "Primary database" in t and "PostgreSQL" in t,
                              timeout=60) is not None, s.text()
            s.pump(1.0)  # let it settle: a key sent while the driver starts may be lost
            s.send(b"q")
            end = time.monotonic() + 30  # pump() returns at once after the pty closed
            while time.monotonic() < end:
                s.pump(0.05)
                pid, status = os.waitpid(s.pid, os.WNOHANG)
                if pid:
                    assert os.waitstatus_to_exitcode(status) == 0
                    s.pid = -1
                    break
                time.sleep(0.02)
            else:
                raise AssertionError("the demo did not quit on q")
        finally:
            if s.pid > 0:
                s.close()
    finally:
        os.chdir(cwd)
