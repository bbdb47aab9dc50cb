"""Misbehaving servers for the probe tests: HTTP (backend, frontend, Horizon), DNS, blackholes.

Modes are chosen by the request path (HTTP) or the query name (DNS), so one server per
session serves every test without shared mutable state.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import dns.rrset
from shared_fakes import Blackhole  # noqa: F401 - re-exported for the probe tests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def horizon_root(age: float, lag: int = 1, passphrase: str = "Test SDF Network ; September 2015") -> dict:
    hist = 1_000_000
    return {"horizon_version": "2.30.0", "core_version": "stellar-core 21",
            "ingest_latest_ledger": hist, "history_latest_ledger": hist,
            "history_latest_ledger_closed_at": _iso(time.time() - age),
            "history_elder_ledger": 2, "core_latest_ledger": hist + lag,
            "network_passphrase": passphrase, "current_protocol_version": 21}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a) -> None:  # quiet
        pass

    def _send(self, code: int, body: bytes | str, ctype: str = "application/json",
              headers: dict | None = None) -> None:
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Latest-Ledger", "1000000")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: C901 - a table of modes
        path = self.path.split("?")[0]
        try:
            self.route(path)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            pass

    def route(self, path: str) -> None:
        ok_json = json.dumps({"status": "ok", "checks": {"db": True}, "items": [1, 2]})
        if path == "/ok":
            self._send(200, ok_json)
        elif path == "/degraded":
            self._send(200, json.dumps({"status": "degraded", "checks": {"db": False}, "items": []}))
        elif path == "/slow":
            time.sleep(3)
            self._send(200, ok_json)
        elif path == "/drip":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            for _ in range(1000):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.3)
        elif path == "/huge":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(64 << 20))
            self.end_headers()
            chunk = b"[" + b"1," * 32767 + b"1"
            for _ in range(1024):
                self.wfile.write(chunk)
        elif path == "/500":
            self._send(500, "internal error")
        elif path == "/429":
            self._send(429, json.dumps({"type": "rate_limit_exceeded"}), headers={"Retry-After": "7"})
        elif path == "/403":
            self._send(403, "forbidden")
        elif path == "/401":
            self._send(401, "unauthorized")
        elif path == "/garbage":
            self._send(200, "<html><title>captive portal</title>\x1b[31mhi\x1b[0m</html>", "text/html")
        elif path == "/frontend":
            self._send(200, "<html><head><title>App</title><meta name=build-id content=42></head></html>",
                       "text/html")
        elif path == "/echo-auth":
            self._send(200, json.dumps({"auth": self.headers.get("Authorization", "")}))
        elif path.startswith("/hz/"):
            self.horizon(path)
        else:
            self._send(404, "not found")

    do_HEAD = do_GET

    def horizon(self, path: str) -> None:
        _, _, mode, *rest = path.split("/")
        sub = "/".join(rest)
        if sub == "health":
            if mode == "unhealthy":
                self._send(503, json.dumps({"database_connected": True, "core_up": True,
                                            "core_synced": False}), "text/plain")
            else:
                self._send(200, json.dumps({"database_connected": True, "core_up": True,
                                            "core_synced": True}), "text/plain")
            return
        if mode == "ok" or mode == "unhealthy":
            self._send(200, json.dumps(horizon_root(2)), "application/hal+json")
        elif mode == "old":
            self._send(200, json.dumps(horizon_root(300)), "application/hal+json")
        elif mode == "behind":
            self._send(200, json.dumps(horizon_root(2, lag=50)), "application/hal+json")
        elif mode == "stalehist":
            self._send(503, json.dumps({"type": "https://stellar.org/horizon-errors/stale_history",
                                        "title": "Historical DB Is Too Stale", "status": 503,
                                        "extras": {"history_latest_ledger": 100,
                                                   "core_latest_ledger": 160}}),
                       "application/problem+json")
        elif mode == "ratelimit":
            self._send(429, json.dumps({"type": "https://stellar.org/horizon-errors/rate_limit_exceeded"}),
                       "application/problem+json", {"X-RateLimit-Limit": "3600", "X-RateLimit-Remaining": "0"})
        elif mode == "garbage":
            self._send(200, "<html>captive portal</html>", "text/html")
        elif mode == "slow":
            time.sleep(3)
            self._send(200, json.dumps(horizon_root(2)))
        elif mode == "drip":
            self.send_response(200)
            self.send_header("Content-Length", "5000")
            self.end_headers()
            for _ in range(5000):
                self.wfile.write(b"{")
                self.wfile.flush()
                time.sleep(0.3)
        else:
            self._send(404, "no such mode")


class FakeHTTP:
    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True,
                                                 do_handshake_on_connect=False)
        self.port = self.server.server_address[1]
        scheme = "https" if tls else "http"
        host = "localhost" if tls else "127.0.0.1"
        self.url = f"{scheme}://{host}:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------- certificates (cryptography)


def make_certs(directory: Path, *, days_left: float = 2.0) -> dict[str, Path]:
    """A CA, a localhost cert signed by it expiring in ``days_left`` days, and a self-signed
    cert for the wrong host. Returns the file paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)

    def key():
        return ec.generate_private_key(ec.SECP256R1())

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def pem_key(k) -> bytes:
        return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())

    ca_key = key()
    ca = (x509.CertificateBuilder().subject_name(name("cockpit test CA")).issuer_name(name("cockpit test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, key_cert_sign=True, crl_sign=True,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    leaf_key = key()
    leaf = (x509.CertificateBuilder().subject_name(name("localhost")).issuer_name(ca.subject)
            .public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=days_left))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    bad_key = key()
    bad = (x509.CertificateBuilder().subject_name(name("wrong.example")).issuer_name(name("wrong.example"))
           .public_key(bad_key.public_key()).serial_number(x509.random_serial_number())
           .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
           .add_extension(x509.SubjectAlternativeName([x509.DNSName("wrong.example")]), critical=False)
           .sign(bad_key, hashes.SHA256()))
    out = {}
    for label, data in {"ca.pem": ca.public_bytes(serialization.Encoding.PEM),
                        "leaf.pem": leaf.public_bytes(serialization.Encoding.PEM),
                        "leaf.key": pem_key(leaf_key),
                        "bad.pem": bad.public_bytes(serialization.Encoding.PEM),
                        "bad.key": pem_key(bad_key)}.items():
        p = directory / label
        p.write_bytes(data)
        out[label] = p
    return out


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


# ---------------------------------------------------------------- DNS responder


class FakeDNS:
    """UDP + TCP responder on one port. Modes by name: ok., wrong., servfail., refused.,
    empty. (NOERROR, no data), drop. (no reply), slow. (1.5 s); other names: NXDOMAIN."""

    ANSWER = "192.0.2.10"

    def __init__(self) -> None:
        for _ in range(20):
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.udp.bind(("127.0.0.1", 0))
            self.port = self.udp.getsockname()[1]
            self.tcp = socket.socket()
            self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                self.tcp.bind(("127.0.0.1", self.port))
                break
            except OSError:
                self.udp.close()
                self.tcp.close()
        self.tcp.listen(16)
        self.stopped = False
        threading.Thread(target=self._udp_loop, daemon=True).start()
        threading.Thread(target=self._tcp_loop, daemon=True).start()

    def answer(self, wire: bytes) -> bytes | None:
        q = dns.message.from_wire(wire)
        r = dns.message.make_response(q)
        r.flags |= dns.flags.AA
        qname = q.question[0].name.to_text().lower()
        label = qname.split(".")[0]
        if label == "drop":
            return None
        if label == "slow":
            time.sleep(1.5)
        if label in ("ok", "slow"):
            r.answer.append(dns.rrset.from_text_list(q.question[0].name, 60, "IN", "A", [self.ANSWER]))
        elif label == "longttl":
            r.answer.append(dns.rrset.from_text_list(q.question[0].name, 86400, "IN", "A", [self.ANSWER]))
        elif label == "wrong":
            r.answer.append(dns.rrset.from_text_list(q.question[0].name, 60, "IN", "A", ["10.9.9.9"]))
        elif label == "servfail":
            r.set_rcode(dns.rcode.SERVFAIL)
        elif label == "refused":
            r.set_rcode(dns.rcode.REFUSED)
        elif label == "empty":
            pass
        else:
            r.set_rcode(dns.rcode.NXDOMAIN)
        return r.to_wire()

    def _udp_loop(self) -> None:
        while not self.stopped:
            try:
                data, addr = self.udp.recvfrom(4096)
            except OSError:
                return
            threading.Thread(target=self._udp_one, args=(data, addr), daemon=True).start()

    def _udp_one(self, data: bytes, addr) -> None:
        try:
            out = self.answer(data)
            if out is not None:
                self.udp.sendto(out, addr)
        except Exception:  # noqa: BLE001
            pass

    def _tcp_loop(self) -> None:
        while not self.stopped:
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            threading.Thread(target=self._tcp_one, args=(conn,), daemon=True).start()

    def _tcp_one(self, conn: socket.socket) -> None:
        with conn:
            try:
                n = int.from_bytes(conn.recv(2), "big")
                data = b""
                while len(data) < n:
                    chunk = conn.recv(n - len(data))
                    if not chunk:
                        return
                    data += chunk
                out = self.answer(data)
                if out is not None:
                    conn.sendall(len(out).to_bytes(2, "big") + out)
            except Exception:  # noqa: BLE001
                pass

    def close(self) -> None:
        self.stopped = True
        self.udp.close()
        self.tcp.close()
