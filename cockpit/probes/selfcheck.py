"""The cockpit looks at its own side first: "our network is down" is never "the service is
down" (design decision 8.7: decided before any service is called DOWN).

``localnet.observe()`` needs no configuration. It looks at:

- the interfaces: is any one besides loopback up, with carrier and an address (Linux:
  ``if_nameindex`` and ``SIOCGIFFLAGS``/``SIOCGIFADDR`` of this network namespace, global
  IPv6 addresses from ``/proc/net/if_inet6``);
- the routes: is there a route beyond this machine, and one to each probe's address (a
  route lookup through ``connect()`` of a UDP socket: no packet is sent);
- the system resolver: do the nameservers of ``/etc/resolv.conf`` answer a query for the
  names the probes use (one UDP query each, a short deadline; NOERROR or NXDOMAIN is an
  answer, SERVFAIL, REFUSED, an ICMP error or silence is not);
- the connectivity anchors, when configured (a TCP connect).

``decide()`` is a pure function of that observation and of what the probes of this process
saw last (``Evidence``), and returns the ``NetworkState`` the banner, ``cockpit status`` and its
JSON show. ``NetworkState.explains()`` tells the scheduler which probe failures are the
cockpit's own (shown UNKNOWN with the last-known state, never DOWN):

- OFFLINE, "the cockpit's own network is down": no usable interface, or no route beyond this
  machine, or no anchor answers while nothing else does, or at least two independent things
  beyond this machine (probes, a remote resolver, anchors) fail at the network level at once
  while none answers;
- DNS: the resolver does not answer while the network is up (a dead local resolver, or
  addresses answering): probes that needed a name are UNKNOWN, probes by address are judged;
- PARTIAL: no route from here to some probes' networks (those are UNKNOWN; the others are
  judged), or nothing in one subnet answers while other networks do (said in words; the
  services there keep their verdict: that network may be what is down).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from ..health import ProbeResult, Status
from . import base
from .base import ProbeTarget
from .localnet import Observation, is_loopback, literal, subnet


class Verdict(StrEnum):
    OK = "ok"
    OFFLINE = "offline"
    DNS = "dns"
    PARTIAL = "partial"
    UNKNOWN = "unknown"  # not looked yet


class Outcome(StrEnum):
    ANSWERED = "answered"  # something beyond this machine answered (even an error)
    NETWORK = "network"  # unreachable, no route, no answer to connect
    DNS = "dns"  # the name did not resolve
    NONE = "none"  # no network evidence either way (configuration, probe bug)


def outcome(res: ProbeResult) -> Outcome:
    """What one probe run says about the path from here to its target."""
    c = res.error_class
    if res.status == Status.OK or c is None:
        return Outcome.ANSWERED
    if c == base.DNS:
        return Outcome.DNS
    if c in (base.NETWORK, base.TIMEOUT, base.TIMEOUT_CONNECT):
        return Outcome.NETWORK
    if c in (base.CONFIG, base.ERROR, base.OFFLINE):
        return Outcome.NONE
    return Outcome.ANSWERED  # refused, auth, TLS, HTTP errors, read timeouts: a peer answered


# ---------------------------------------------------------------- where probes go


def _dsn_hosts(dsn: str) -> list[tuple[str, int]]:
    """Hosts of a libpq URL (``postgresql://u@h1:5432,h2/db``) or key=value DSN."""
    if "://" in dsn:
        netloc = dsn.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0].rpartition("@")[2]
        parts = [base.parse_host_port(h, 5432) for h in netloc.split(",") if h]
        return [(h, p) for h, p in parts]
    pairs: dict[str, str] = {}
    for tok in dsn.split():
        k, eq, v = tok.partition("=")
        if eq:
            pairs[k.strip()] = v.strip().strip("'\"")
    hosts = [h for h in (pairs.get("host") or pairs.get("hostaddr") or "").split(",") if h]
    ports = [int(p) for p in (pairs.get("port") or "").split(",") if p.isdigit()] or [5432]
    return [(h, ports[min(i, len(ports) - 1)]) for i, h in enumerate(hosts)]


def endpoints(target: ProbeTarget) -> tuple[tuple[str, int], ...]:
    """(host, port) pairs a probe contacts; unix sockets and unparsable values left out."""
    k = target.kind
    out: list[tuple[str, int]] = []
    try:
        if k == "postgres":
            out = _dsn_hosts(str(target.opt("dsn") or ""))
        elif k in ("redis", "tcp"):
            out = [(str(target.opt("host")), int(target.opt("port")))]
        elif k in ("http", "horizon"):
            u = urlsplit(str(target.opt("url") or ""))
            if u.hostname:
                out = [(u.hostname, u.port or (443 if u.scheme == "https" else 80))]
        elif k in ("s3", "walg"):
            ep = target.opt("endpoint")
            if ep:
                u = urlsplit(str(ep))
                if u.hostname:
                    out = [(u.hostname, u.port or (443 if u.scheme == "https" else 80))]
            else:
                region = str(target.opt("region") or "us-east-1")
                out = [("s3.amazonaws.com" if region == "us-east-1" else f"s3.{region}.amazonaws.com", 443)]
        elif k == "dns":
            out = [base.parse_host_port(str(r), 53) for r in target.opt("resolvers") or []]
    except (TypeError, ValueError):
        return ()
    return tuple((h, p) for h, p in out if h and not h.startswith("/"))


# ---------------------------------------------------------------- the verdict


@dataclass(frozen=True)
class Evidence:
    """What one probe of this process saw last."""

    probe: str  # "service/name"
    hosts: tuple[str, ...]
    outcome: Outcome


@dataclass(frozen=True)
class Problem:
    verdict: Verdict
    text: str  # one line, in words
    explains_names: bool = False  # DNS: failures of probes that needed a name are ours
    unroutable: frozenset[str] = frozenset()  # PARTIAL: failures towards these are ours


@dataclass(frozen=True)
class NetworkState:
    verdict: Verdict = Verdict.UNKNOWN
    problems: tuple[Problem, ...] = ()
    observation: Observation | None = None

    @property
    def text(self) -> str:
        if not self.problems:
            return {Verdict.UNKNOWN: "not looked yet"}.get(self.verdict, "no problem seen on the "
                                                           "cockpit's side")
        return " ".join(p.text for p in self.problems)

    def explains(self, target: ProbeTarget, res: ProbeResult) -> str | None:
        """Why this failure is the cockpit's own (None: judge the service)."""
        out = outcome(res)
        if out not in (Outcome.NETWORK, Outcome.DNS):
            return None
        hosts = [h for h, _ in endpoints(target)]
        obs = self.observation
        addrs = [a for h in hosts for a in (obs.addresses.get(h, ()) if obs else ())]
        for p in self.problems:
            if p.verdict == Verdict.OFFLINE:
                return "cockpit offline"
            if p.explains_names and any(literal(h) is None and not is_loopback(h) for h in hosts):
                return "cockpit DNS down"
            if p.unroutable and addrs and all(a in p.unroutable for a in addrs):
                return f"no route from the cockpit to {addrs[0]}"
        return None

    def doc(self) -> dict[str, object]:
        """For ``cockpit status --json``."""
        o = self.observation
        return {
            "verdict": self.verdict.value, "text": self.text,
            "problems": [{"verdict": p.verdict.value, "text": p.text} for p in self.problems],
            "interfaces": list(o.links) if o and o.links is not None else None,
            "route_beyond_this_machine": o.route if o else None,
            "resolver": {"servers": list(o.resolver.servers), "answers": o.resolver.answers,
                         "detail": o.resolver.detail} if o else None,
            "anchors": [{"host": h, "port": p, "answers": ok} for h, p, ok in o.anchors] if o else [],
            "unroutable": sorted(o.unroutable) if o else [],
        }


def _list(items: Sequence[str], n: int = 3) -> str:
    more = f" and {len(items) - n} more" if len(items) > n else ""
    return ", ".join(items[:n]) + more


def decide(obs: Observation | None, evidence: Sequence[Evidence]) -> NetworkState:
    """The verdict on the cockpit's own network (see the module docstring)."""
    if obs is None:
        return NetworkState()
    remote = [e for e in evidence if e.hosts and not all(is_loopback(h) for h in e.hosts)]
    answered = [e for e in remote if e.outcome == Outcome.ANSWERED]
    failed = [e for e in remote if e.outcome in (Outcome.NETWORK, Outcome.DNS)]
    anchors_ok = any(ok for _, _, ok in obs.anchors)
    res = obs.resolver
    after = ("Services are UNKNOWN with their last-known state; none is called DOWN on this "
             "evidence.")
    offline = None
    if answered or anchors_ok or ((res.answers or res.reachable) and not res.local):
        pass  # something beyond this machine answered just now: our network works
    elif obs.links == ():
        offline = "no network interface is up besides loopback"
    elif not obs.route:
        offline = "no route from this machine to any other network"
    elif obs.anchors:
        offline = (f"none of the {len(obs.anchors)} connectivity anchors answers "
                   f"({_list([f'{h}:{p}' for h, p, _ in obs.anchors])})")
    else:
        # Nothing beyond this machine answers. Two independent witnesses make it our network:
        # probes to addresses, and a remote resolver that is silent (with the probes that
        # needed it). A dead local resolver alone is our DNS, not our network.
        by_address = [e for e in failed if all(literal(h) is not None for h in e.hosts)]
        silent = res.answers is False and not res.local
        by_name = len(failed) > len(by_address)
        hosts = {h for e in by_address for h in e.hosts}  # two probes of one server: one
        witnesses = len(hosts) + (1 if silent else 0) + (1 if silent and by_name else 0)
        if witnesses >= 2:
            resolver = f"; the resolver does not answer ({res.detail})" if silent else ""
            offline = (f"every probe beyond this machine fails at the network level "
                       f"({_list([e.probe for e in failed])}){resolver}")
    if offline:
        return NetworkState(Verdict.OFFLINE, (Problem(
            Verdict.OFFLINE, f"THE COCKPIT'S OWN NETWORK IS DOWN: {offline}. {after}"),), obs)
    problems: list[Problem] = []
    if res.answers is False and res.names != (".",):  # a probe needs names resolved
        up = "addresses are reachable" if answered or anchors_ok else (
            "the network itself is up" if obs.links or obs.route else "")
        problems.append(Problem(Verdict.DNS, (
            f"THE COCKPIT'S DNS IS DOWN: its resolver does not resolve names ({res.detail})"
            f"{'; ' + up if up else ''}. Services reached by name are "
            "UNKNOWN with their last-known state; those reached by address are judged as usual."),
            explains_names=True))
    if obs.unroutable:
        nets = sorted({subnet(a) for a in obs.unroutable})
        who = [e.probe for e in evidence
               if any(a in obs.unroutable for h in e.hosts for a in obs.addresses.get(h, ()))]
        problems.append(Problem(Verdict.PARTIAL, (
            f"PARTIAL NETWORK LOSS: no route from the cockpit to {_list(nets)}"
            f"{' (' + _list(who) + ')' if who else ''}; other networks are reachable. Those "
            "probes are UNKNOWN with their last-known state."), unroutable=obs.unroutable))
    problems.extend(_silent_subnets(obs, remote))
    if not problems:
        return NetworkState(Verdict.OK, (), obs)
    return NetworkState(problems[0].verdict, tuple(problems), obs)


def _silent_subnets(obs: Observation, remote: Sequence[Evidence]) -> list[Problem]:
    """Nothing in one subnet answers (at the network level) while other subnets do."""
    nets: dict[str, list[Evidence]] = {}
    for e in remote:
        for n in {subnet(a) for h in e.hosts for a in obs.addresses.get(h, ())
                  if a not in obs.unroutable and not is_loopback(a)}:
            nets.setdefault(n, []).append(e)
    answering = {n for n, es in nets.items() if any(e.outcome == Outcome.ANSWERED for e in es)}
    silent = sorted(n for n, es in nets.items()
                    if n not in answering and any(e.outcome == Outcome.NETWORK for e in es))
    if not silent or not answering:
        return []
    who = sorted({e.probe for n in silent for e in nets[n]})
    return [Problem(Verdict.PARTIAL, (
        f"PARTIAL NETWORK LOSS: nothing in {_list(silent)} answers ({_list(who)}) while "
        f"{_list(sorted(answering))} {'does' if len(answering) == 1 else 'do'}: the path from "
        "the cockpit to that network, or that network itself, is down."))]
