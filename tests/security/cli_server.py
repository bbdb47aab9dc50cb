"""A fork server for the CLI: ``cockpit ARGS`` in a fresh process, without paying for a
Python start and the imports each time (0.4 s a command on the 2-core machine).

The server imports the CLI and every subcommand module once, then for each request forks:
the child sets the environment, points fds 1 and 2 at the request's files, runs
``cockpit.cli.main(argv)`` as the ``cockpit`` entry point does (``sys.exit(main())``: an
uncaught exception prints its traceback and exits 1) and exits with its code. The parent
test reads the files as the bytes a terminal would have received. ``CliServer.run`` has
the same result shape as ``subprocess.run``; test_cli_output cross-checks it against a
real ``cockpit`` process.

Protocol: one JSON line per request on stdin ``{"argv", "env", "out", "err"}``, one JSON
line back ``{"rc"}``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path


def _serve() -> None:  # pragma: no cover - runs in the server process
    import traceback

    import cockpit.cli
    import cockpit.cli.incident  # noqa: F401
    import cockpit.cli.journal  # noqa: F401
    import cockpit.cli.runbooks  # noqa: F401
    import cockpit.cli.status  # noqa: F401

    for line in sys.stdin:
        req = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            try:
                os.environ.update(req["env"])
                for k, v in req["env"].items():
                    if v == "":
                        os.environ.pop(k, None)
                out = os.open(req["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                err = os.open(req["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                os.dup2(out, 1)
                os.dup2(err, 2)
                devnull = os.open(os.devnull, os.O_RDONLY)
                os.dup2(devnull, 0)
                sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
                sys.stderr = open(2, "w", encoding="utf-8",  # noqa: SIM115
                                  errors="backslashreplace", closefd=False)
                try:
                    code = cockpit.cli.main(req["argv"])
                except SystemExit as e:
                    code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
                    if not isinstance(e.code, int | None):
                        print(e.code, file=sys.stderr)
                except BaseException:  # noqa: BLE001 - as the interpreter would report it
                    traceback.print_exc()
                    code = 1
                sys.stdout.flush()
                sys.stderr.flush()
            except BaseException:  # noqa: BLE001
                code = 3
            os._exit(int(code or 0) & 0xFF)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"rc": os.waitstatus_to_exitcode(status)}), flush=True)


class CliServer:
    """One server process per user; ``run(argv, env)`` is thread-safe."""

    def __init__(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH", "")])
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from tests.security.cli_server import _serve; _serve()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
            cwd=str(Path(__file__).resolve().parents[2]))
        self.lock = threading.Lock()
        self.dir = tempfile.mkdtemp(prefix="cockpit-cli-")

    def run(self, argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
        with self.lock:
            out, err = Path(self.dir, "out"), Path(self.dir, "err")
            self.proc.stdin.write(json.dumps({"argv": argv, "env": env, "out": str(out),
                                              "err": str(err)}) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("the CLI fork server died")
            rc = json.loads(line)["rc"]
            return subprocess.CompletedProcess(["cockpit", *argv], rc, out.read_bytes(),
                                               err.read_bytes())

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        import shutil

        shutil.rmtree(self.dir, ignore_errors=True)
