"""The cockpit's own side of the network, as this machine sees it, with no configuration:
interfaces, routes, the system resolver, and the connectivity anchors when configured.
``observe()`` returns an ``Observation``; ``selfcheck.decide()`` turns it into a verdict.

Nothing here sends traffic to the probes' targets: a route lookup is ``connect()`` on a UDP
socket (no packet), the resolver gets one small query per nameserver and name, the anchors
one TCP connect each.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import os
import socket
import struct
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

RESOLV_CONF = "/etc/resolv.conf"
RESOLVER_TIMEOUT = 1.5
MAX_NAMES = 4
# Route lookups only (nothing is sent): documentation prefixes, routed by a default route.
BEYOND = (("198.51.100.1", 9), ("2001:db8::1", 9))
ANSWERING_RCODES = {0: "NOERROR", 3: "NXDOMAIN"}


def literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def is_loopback(host: str) -> bool:
    ip = literal(host)
    if ip is not None:
        return ip.is_loopback
    h = host.lower().rstrip(".")
    return h == "localhost" or h.endswith(".localhost")


def subnet(addr: str) -> str:
    ip = literal(addr)
    if ip is None:
        return addr
    return str(ipaddress.ip_network(f"{ip}/{24 if ip.version == 4 else 64}", strict=False))


def links() -> tuple[str, ...] | None:
    """Interfaces besides loopback that are up, have carrier and an address (None: this
    platform cannot tell)."""
    if not sys.platform.startswith("linux"):
        return None
    import fcntl

    try:
        names = [n for _, n in socket.if_nameindex()]
    except OSError:
        return None
    v6: set[str] = set()
    with contextlib.suppress(OSError), open("/proc/net/if_inet6", encoding="ascii") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and parts[3] == "00":  # scope global
                v6.add(parts[5])
    up = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for name in names:
            req = struct.pack("256s", name.encode()[:15])
            try:
                flags = struct.unpack("H", fcntl.ioctl(s.fileno(), 0x8913, req)[16:18])[0]
            except OSError:
                continue
            if flags & 0x8 or not flags & 0x1 or not flags & 0x40:  # loopback, not up, no carrier
                continue
            try:
                fcntl.ioctl(s.fileno(), 0x8915, req)  # SIOCGIFADDR: has an IPv4 address
                has_v4 = True
            except OSError:
                has_v4 = False
            if has_v4 or name in v6:
                up.append(name)
    return tuple(up)


def route_source(host: str, port: int = 9) -> str | None:
    """The source address the kernel would use towards ``host`` (None: no route). A route
    lookup: ``connect()`` on a UDP socket sends nothing."""
    ip = literal(host)
    if ip is None:
        return None
    fam = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    try:
        with socket.socket(fam, socket.SOCK_DGRAM) as s:
            s.connect((host, port))
            return str(s.getsockname()[0])
    except OSError:
        return None


def nameservers(path: str = RESOLV_CONF) -> tuple[str, ...]:
    """The resolver's nameservers (glibc: at most 3; none listed means 127.0.0.1)."""
    out: list[str] = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.split("#", 1)[0].split(";", 1)[0].split()
                if len(parts) >= 2 and parts[0] == "nameserver" and literal(parts[1]):
                    out.append(parts[1])
    except OSError:
        return ("127.0.0.1",)
    return tuple(out[:3]) or ("127.0.0.1",)


def dns_query(name: str, qid: int) -> bytes:
    """A recursive query for ``name`` IN A; ValueError (UnicodeError) for a name DNS cannot
    carry."""
    labels = b"".join(bytes([len(p)]) + p for p in name.rstrip(".").encode("idna").split(b".") if p)
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + labels + b"\x00" + struct.pack("!HH", 1, 1)


class _Answer(asyncio.DatagramProtocol):
    def __init__(self, qid: int) -> None:
        self.qid = qid
        self.done: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: object) -> None:
        if len(data) >= 4 and struct.unpack("!H", data[:2])[0] == self.qid and not self.done.done():
            rcode = data[3] & 0x0F
            self.done.set_result(ANSWERING_RCODES.get(rcode, {2: "SERVFAIL", 5: "REFUSED"}.get(
                rcode, f"rcode {rcode}")))

    def error_received(self, exc: Exception) -> None:
        if not self.done.done():
            self.done.set_exception(exc)


async def ask(server: str, name: str, timeout: float, port: int = 53) -> str:
    """One query to one nameserver: the rcode name, or why there was none."""
    loop = asyncio.get_running_loop()
    qid = int.from_bytes(os.urandom(2), "big")
    try:
        query = dns_query(name, qid)
    except ValueError:  # UnicodeError too: a name DNS cannot carry (the probe says so)
        return "not asked: not a DNS name"
    try:
        transport, proto = await loop.create_datagram_endpoint(
            lambda: _Answer(qid), remote_addr=(server.split("%", 1)[0], port))
    except OSError as e:
        return _why(e)
    try:
        transport.sendto(query)
        async with asyncio.timeout(timeout):
            return await proto.done
    except TimeoutError:
        return f"no answer within {timeout:g}s"
    except OSError as e:
        return _why(e)
    finally:
        transport.close()


def _why(e: OSError) -> str:
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    if e.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return "network unreachable"
    return e.strerror or type(e).__name__


@dataclass(frozen=True)
class Resolver:
    servers: tuple[str, ...] = ()
    answers: bool | None = None  # None: not asked (no name to resolve)
    detail: str = ""  # e.g. "127.0.0.9: connection refused"
    reachable: bool = False  # some nameserver sent a DNS answer (even SERVFAIL or REFUSED)
    names: tuple[str, ...] = ()  # asked about ("." alone: no probe needs a name)

    @property
    def local(self) -> bool:
        return bool(self.servers) and all(is_loopback(s) for s in self.servers)


RCODE_WORDS = (*ANSWERING_RCODES.values(), "SERVFAIL", "REFUSED", "rcode ")


async def check_resolver(names: Sequence[str], path: str = RESOLV_CONF,
                         timeout: float = RESOLVER_TIMEOUT, port: int = 53) -> Resolver:
    servers = nameservers(path)
    if not names:
        return Resolver(servers)
    asks = [(s, n) for s in servers for n in names]
    got = await asyncio.gather(*(ask(s, n, timeout, port) for s, n in asks))
    if any(g in ANSWERING_RCODES.values() for g in got):
        return Resolver(servers, True, reachable=True, names=tuple(names))
    per: dict[str, str] = {}
    for (s, _), g in zip(asks, got, strict=True):
        per.setdefault(s, g)
    return Resolver(servers, False, ", ".join(f"{s}: {g}" for s, g in per.items()),
                    reachable=any(g.startswith(RCODE_WORDS) for g in got), names=tuple(names))


async def check_anchor(host: str, port: int, timeout: float) -> bool:
    try:
        async with asyncio.timeout(timeout):
            _, w = await asyncio.open_connection(host, port)
        w.transport.abort()
        return True
    except (OSError, TimeoutError):
        return False


async def _resolve(host: str, port: int, timeout: float) -> tuple[str, ...]:
    try:
        async with asyncio.timeout(timeout):
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError):
        return ()
    return tuple(dict.fromkeys(str(i[4][0]) for i in infos))


@dataclass(frozen=True)
class Observation:
    at: float = 0.0  # time.monotonic()
    links: tuple[str, ...] | None = None
    route: bool = True  # a route beyond this machine (default, or to a probe's address)
    resolver: Resolver = field(default_factory=Resolver)
    anchors: tuple[tuple[str, int, bool], ...] = ()
    addresses: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # host -> addresses
    unroutable: frozenset[str] = frozenset()  # addresses with no route from here


async def observe(hosts: Iterable[tuple[str, int]], anchors: Iterable[tuple[str, int]] = (), *,
                  resolver: bool = True, resolv_conf: str = RESOLV_CONF,
                  anchor_timeout: float = 2.0,
                  resolver_timeout: float = RESOLVER_TIMEOUT) -> Observation:
    """Look at the cockpit's own side (see the module docstring); a few seconds at most.
    ``resolver``: ask the nameservers too (only when a probe beyond this machine failed at
    the network level: they are asked about the probes' names, or the root when every probe
    goes to an address)."""
    hosts = list(dict.fromkeys(hosts))
    names = [h for h, _ in hosts if literal(h) is None and not is_loopback(h)]
    names = list(dict.fromkeys(names))[:MAX_NAMES]
    asked = (names or ["."]) if resolver else []
    anchors = list(anchors)
    res_task = asyncio.ensure_future(check_resolver(asked, resolv_conf, resolver_timeout))
    anchor_oks = await asyncio.gather(*(check_anchor(h, p, anchor_timeout) for h, p in anchors))
    found = await res_task
    addresses: dict[str, tuple[str, ...]] = {h: (h,) for h, _ in hosts if literal(h) is not None}
    if found.answers:
        first = {h: p for h, p in reversed(hosts)}
        looked = await asyncio.gather(*(_resolve(h, first[h], 1.0) for h in names))
        addresses.update(zip(names, looked, strict=True))
    up = links()
    remote = {a for addrs in addresses.values() for a in addrs if not is_loopback(a)}
    routes = {a: route_source(a) is not None for a in remote}
    # beyond this machine: a default route, or one to a nameserver, an anchor or a probe (a
    # bastion with routes to its own networks only has no default route)
    others = [(s, 53) for s in found.servers if not is_loopback(s)] + [
        (h, p) for h, p in anchors if literal(h) is not None and not is_loopback(h)]
    beyond = any(route_source(h, p) is not None for h, p in (*BEYOND, *others)) \
        or any(routes.values())
    return Observation(
        at=time.monotonic(), links=up, route=beyond, resolver=found,
        anchors=tuple((h, p, ok) for (h, p), ok in zip(anchors, anchor_oks, strict=True)),
        addresses=addresses, unroutable=frozenset(a for a, ok in routes.items() if not ok))
