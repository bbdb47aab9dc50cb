"""Loopback listeners that never answer (shared by the tests and the benchmarks)."""

from __future__ import annotations

import socket
import time


class Blackhole:
    """A listener whose accept queue is full: further connects hang (SYNs dropped), as a
    filtered network does."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.fillers = []
        for _ in range(3):
            c = socket.socket()
            c.setblocking(False)
            try:
                c.connect(("127.0.0.1", self.port))
            except BlockingIOError:
                pass
            self.fillers.append(c)
        time.sleep(0.05)

    def close(self) -> None:
        for c in self.fillers:
            c.close()
        self.sock.close()
