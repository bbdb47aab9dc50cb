"""The flight recorder: while an incident is open, what every configured service's pane
shows is journaled when it changes, at most once per probe interval per service; bounded
cost with everything flapping; on a live session with real probes."""

from __future__ import annotations

import socket
import time

from cockpit.config import Config, Milestones, ProbeConfig, ServiceConfig
from cockpit.health import ServiceHealth, Status
from cockpit.incident.fold import fold
from cockpit.incident.model import SimEntry
from cockpit.incident.recorder import FlightRecorder, entries_per_hour
from cockpit.incident.store import IncidentStore
from cockpit.journal.validate import check_data
from cockpit.session.live import LiveSession

from .helpers import entries_of


def H(sid: str, status: Status, summary: str = "", fig: str | None = None,
      rpo: float | None = None, at: float = 0.0) -> ServiceHealth:
    return ServiceHealth(sid, sid.title(), status, summary, at, key_figure=fig, rpo_exposure=rpo)


def test_baseline_then_only_changes_coalesced_per_interval():
    rec = FlightRecorder({"db": 15.0, "web": 5.0})
    health = [H("db", Status.OK, "up", "lag 1s", 1.0), H("web", Status.OK, "200")]
    due = rec.due(health, 0.0)
    assert [d["service"] for d in due] == ["db", "web"]  # every service: the baseline
    assert due[0] == {"service": "db", "status": "ok", "summary": "up", "key_figure": "lag 1s",
                      "rpo_exposure": 1.0, "observed_at": 0.0}
    for d in due:
        rec.written(d, 0.0)
    assert rec.due(health, 1.0) == []  # nothing shown changed
    assert rec.due([H("db", Status.OK, "up", "lag 1s", 1.4)], 100.0) == []  # same second
    flapped = [H("db", Status.FAIL, "refused", None, 30.0), H("web", Status.OK, "200")]
    assert rec.due(flapped, 10.0) == []  # db changed within its 15 s interval: coalesced
    assert rec.pending(flapped)
    later = [H("db", Status.WARN, "slow", "lag 9s", 40.0), H("web", Status.OK, "200")]
    due = rec.due(later, 15.0)  # the interval passed: what is shown now, once
    assert [(d["service"], d["status"]) for d in due] == [("db", "warn")]
    rec.written(due[0], 15.0)
    assert not rec.pending(later)


def test_summary_is_sanitized_and_masked():
    rec = FlightRecorder({"db": 1.0}, mask=lambda t: t.replace("hunter22", "********"))
    d = rec.due([H("db", Status.FAIL, "\x1b[31mpassword hunter22\u202e" + "x" * 999)], 0)[0]
    assert "hunter22" not in d["summary"] and "\x1b" not in d["summary"]
    assert "\u202e" not in d["summary"] and len(d["summary"]) <= 300
    assert check_data("health", d) is None  # a well-formed record of the schema


def test_everything_flapping_for_an_hour_is_bounded():
    intervals = {"database": 15.0, "backend": 15.0, "frontend": 30.0, "redis": 10.0}
    rec = FlightRecorder(intervals)
    n, t = 0, 0.0
    while t < 3600:
        health = [H(s, Status.FAIL if int(t * 10) % 2 else Status.OK, f"run {t}", f"{t}s")
                  for s in intervals]
        for d in rec.due(health, t):
            rec.written(d, t)
            n += 1
        t += 0.1  # a new answer every 100 ms, every one different
    assert n <= entries_per_hour(intervals) + len(intervals)
    assert n >= entries_per_hour(intervals) * 0.9  # and it did record the flapping


def test_stale_and_unknown_never_move_an_rto_clock():
    t0 = 1_700_000_000.0
    entries = [SimEntry(t0, "a", "incident.declared",
                        {"title": "x", "severity": "P0", "services": ["db"]}),
               SimEntry(t0 + 60, "a", "health", {"service": "db", "status": "ok"}),
               SimEntry(t0 + 90, "a", "health", {"service": "db", "status": "stale"}),
               SimEntry(t0 + 95, "a", "health", {"service": "db", "status": "unknown"})]
    inc = fold(entries)
    assert inc is not None and inc.recovered_service_at("db") == t0 + 60


def _config(port: int) -> Config:
    def tcp(p: int) -> ProbeConfig:
        return ProbeConfig("tcp", "tcp", 0.3, 1.0, 1, 1, {"host": "127.0.0.1", "port": p})
    return Config(path=None, environment="rec", mode="personal", milestones=Milestones(),
                  services={"backend": ServiceConfig("backend", "Backend", "P0", 3600.0, None,
                                                     probes=(tcp(port),)),
                            "cache": ServiceConfig("cache", "Cache", "P1", 3600.0, None,
                                                   probes=(tcp(port),))})


def _wait(pred, seconds: float = 20.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


def test_live_session_records_every_configured_service(tmp_path):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    port = srv.getsockname()[1]
    state = tmp_path / "state"
    store = IncidentStore(state)
    iid = store.declare("backend down", "P0", ["backend"])  # the cache is not affected
    store.close()
    env = LiveSession(_config(port), state)
    try:
        env.follow(iid)
        env._start_probes()

        def health(sid, status):
            return [e for e in entries_of(state, iid) if e.kind == "health"
                    and e.data["service"] == sid and e.data["status"] == status]
        assert _wait(lambda: health("backend", "ok") and health("cache", "ok"))
        srv.close()
        assert _wait(lambda: health("backend", "fail") and health("cache", "fail"))
        got = [e for e in entries_of(state, iid) if e.kind == "health"]
        # coalesced: never two entries of a service closer than its probe interval
        for sid in ("backend", "cache"):
            ts = [e.ts for e in got if e.data["service"] == sid]
            assert all(b - a >= 0.3 for a, b in zip(ts, ts[1:], strict=False)), ts
        # what the pane showed, as it showed it: an answer has its time; "no answer yet"
        # (a service whose first probe has not answered when the baseline is written) has none
        assert all(e.data.get("observed_at") for e in got
                   if e.data["summary"] != "no answer yet"), [e.data for e in got]
    finally:
        env.stop()
        srv.close()
