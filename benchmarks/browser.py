"""The browser view under test (and benchmarked): ``cockpit serve`` as a process, Debian's headless Chromium
driven by Playwright (never a downloaded browser), and the served terminal's text read from
the page's xterm.js buffer."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
PY = sys.executable

# textual-serve keeps its xterm.js Terminal in a closure; the first object that gets a
# ``terminal`` property set hands it to the page's window, where the test reads its buffer.
HOOK = """
Object.defineProperty(Object.prototype, 'terminal', {configurable: true,
  set(v) {
    window.__cockpitTerminal = v;
    Object.defineProperty(this, 'terminal',
      {value: v, writable: true, configurable: true, enumerable: true});
  }});
"""
READ_SCREEN = """() => {
  const t = window.__cockpitTerminal;
  if (!t) return null;
  const b = t.buffer.active, out = [];
  for (let i = 0; i < t.rows; i++) {
    const l = b.getLine(b.viewportY + i);
    out.push(l ? l.translateToString(true) : '');
  }
  return out.join('\\n');
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """A running ``cockpit serve``: its URL (with the token), its output."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=env, start_new_session=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.url = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not self.url:
            self.url = next((w for ln in list(self.lines) for w in ln.split()
                             if "?token=" in w), "")
            if self.proc.poll() is not None and not self.url:
                break
            time.sleep(0.05)
        assert self.url, f"cockpit serve printed no URL: {self.lines}"
        self.base = self.url.split("?", 1)[0].rstrip("/")
        self.token = self.url.split("?token=", 1)[1]
        port = int(self.base.rsplit(":", 1)[1])
        host = self.base.split("//", 1)[1].rsplit(":", 1)[0]
        while time.monotonic() < deadline:  # printed once bound: this is a formality
            with contextlib.suppress(OSError), socket.create_connection((host, port), 1):
                break
            time.sleep(0.05)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)
        # the per-browser cockpits it spawned are in its process group
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)


def serve(*args: str, env: dict[str, str] | None = None) -> Served:
    return Served([PY, "-m", "cockpit", *args], env=env)


@contextlib.contextmanager
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).is_file():
        raise RuntimeError(f"{CHROMIUM} missing: apt-get install chromium (./run tests does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM,
                              args=["--no-sandbox", "--disable-gpu"])
        try:
            yield b
        finally:
            b.close()


def open_page(b: Any, url: str, size: tuple[int, int] = (1280, 800)) -> Any:
    """A page on ``url`` that can reach nothing but this machine."""
    page = b.new_page(viewport={"width": size[0], "height": size[1]})
    page.add_init_script(HOOK)

    def local_only(route: Any) -> None:
        u = route.request.url
        if u.startswith(("http://127.0.0.1", "https://127.0.0.1", "ws://127.0.0.1",
                         "data:")):
            route.continue_()
        else:
            route.abort()

    page.route("**/*", local_only)
    page.goto(url)
    return page


def screen_text(page: Any) -> str:
    return str(page.evaluate(READ_SCREEN) or "")


def wait_screen(page: Any, pred: Callable[[str], bool], timeout: float = 30.0) -> str:
    """The screen's text once ``pred`` holds (fails with the last screen after
    ``timeout``: generous, the machine is loaded)."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = screen_text(page)
        if pred(text):
            return text
        time.sleep(0.1)
    raise AssertionError(f"not on the browser's screen after {timeout}s:\n{text}")
