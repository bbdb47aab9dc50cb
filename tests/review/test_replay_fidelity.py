"""Replay fidelity: a live incident against a real redis-server and PostgreSQL (stopped and
started by the test), the screen saved at three moments; then the review opened at those three
moments shows the same panes.

Compared, as text: every health row's status word, name, key figure and summary (what the
flight recorder journals: the answer's age and the latency sparkline are not journaled, so
they are not compared), the clocks pane (incident line, title, every clock's value and level),
the runbook steps (each step's line in the navigator, and its whole state) and every line of the
log. The title bar is not compared (it says REVIEW there).

A moment is saved when what the screen shows has been journaled: the recorder writes at most
once per probe interval, so the screen can run ahead of the journal by up to one interval; the
test saves the screen when both agree (nothing pending), as a reviewer's moment would be.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from pathlib import Path

import pytest
from shared_fakes import require, start_redis

from cockpit.cli.review import open_review
from cockpit.config import load_config
from cockpit.runbooks.state import StepState
from cockpit.screens.app import CockpitApp
from cockpit.screens.review import ReviewApp
from cockpit.screens.runbooks import step_line
from cockpit.screens.widgets import ClockPane, HealthPane, LogView
from cockpit.session.live import LiveSession
from cockpit.session.review import ReviewSession
from cockpit.text import one_line
from cockpit.timeutil import compact_duration

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "probes"))
from probe_servers import make_pg_pair  # noqa: E402

pytest.importorskip("cockpit.incident.recorder",
                    reason="the flight recorder (issue 12 part A) journals the health panes")
capture = pytest.importorskip("cockpit.review.bundle",
                              reason="capture bundles (issue 12 part A)").capture

WAIT = 45.0  # a loaded machine: wait this long for an effect, never assert a time

CONFIG = """
[cockpit]
environment = "fidelity"
runbook_dirs = ["runbooks"]

[probe_defaults]
interval = "1s"
deadline = "2s"
fail_after = 1
recover_after = 1

[services.database]
title = "PostgreSQL"
priority = "P0"
rto = "1h"
rpo = "15m"

[[services.database.probes]]
name = "primary"
kind = "postgres"
dsn = "host=127.0.0.1 port={pg} dbname=postgres user=postgres"
expect_role = "primary"

[services.cache]
title = "Redis"
priority = "P1"
rto = "2h"
rpo = "1h"

[[services.cache.probes]]
name = "cache"
kind = "redis"
host = "127.0.0.1"
port = {redis}
"""

RUNBOOK = """
[runbook]
id = "drill"
title = "Drill"
services = ["database"]

[[steps]]
id = "promote"
title = "Promote the replica"
command = ["sh", "-c", "echo promoted"]
timeout = "30s"
destructive = false

[[steps]]
id = "call"
title = "Call the vendor"
"""


def panes(app) -> dict[str, object]:
    s = app.main_screen
    health = [str(row.main.render()) for row in s.query_one(HealthPane).rows()]
    clocks = [str(c.render()) for c in s.query_one(ClockPane).query("Cell")
              if c.display and c.parent.display]
    log = s.query_one(LogView)
    return {"health": health, "clocks": clocks,
            "log": [log.line_text(i) for i in range(log.total)]}


def steps(session) -> dict[str, object]:
    lib = session.runbooks.library().library
    rb = lib.get("drill")
    states = session.runbooks.states("drill")
    lines = [step_line(st, states.get(("drill", st.id), StepState("drill", st.id)).state).plain
             for st in rb.steps]
    return {"lines": lines, "states": states}


def agree(view) -> bool:
    """What the health panes show is what was last journaled for each service."""
    last = {}
    for e in view.entries:
        if e.kind == "health":
            last[e.data["service"]] = e.data
    for h in view.health:
        d = last.get(h.service)
        if d is None or d["status"] != h.status.value:
            return False
        if one_line(h.key_figure or "", 80) != d.get("key_figure", ""):
            return False
        if one_line(h.summary, 300) != d.get("summary"):
            return False
        # the RPO exposure as the clock shows it (whole seconds, cut, not rounded)
        shown = None if h.rpo_exposure is None else compact_duration(h.rpo_exposure)
        got = d.get("rpo_exposure")
        if shown != (None if got is None else compact_duration(got)):
            return False
    return True


async def until(pilot, cond, what: str) -> None:
    end = time.monotonic() + WAIT
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"never happened: {what}")
        await pilot.pause(0.1)


async def save(pilot, app, session, what: str) -> tuple[float, dict[str, object]]:
    """The screen at a moment when it agrees with the journal (see the module docstring)."""
    end = time.monotonic() + WAIT
    while True:
        await pilot.pause()
        # no await from here to the shot: the clocks' tick (a timer) cannot redraw the panes
        # with a later time than the view's in between (it did: one second off, 1 run in 3)
        app.refresh_view()
        view = app.view_state
        if agree(view) and not view.pending:
            return view.now, {**panes(app), "steps": steps(session)}
        if time.monotonic() > end:
            raise AssertionError(f"{what}: the screen never agreed with the journal")
        await pilot.pause(0.3)


def test_the_review_shows_what_the_live_screen_showed(tmp_path):
    require(bool(shutil.which("redis-server")), "redis-server")
    pg = make_pg_pair(with_replica=False)
    redis, rport = start_redis(tmp_path, 0, "--save", "3600 1")  # persistence on (off is WARN)
    servers = [redis]
    try:
        cfg_text = CONFIG.replace("{pg}", str(pg.primary_port)).replace("{redis}", str(rport))
        cfg_path = tmp_path / "cockpit.toml"
        cfg_path.write_text(cfg_text)
        rbdir = tmp_path / "runbooks"
        rbdir.mkdir()
        (rbdir / "drill.toml").write_text(RUNBOOK)
        state = tmp_path / "state"
        config = load_config(cfg_path)
        live = LiveSession(config, state, runbook_dirs=config.runbook_dirs)
        moments: list[tuple[float, dict[str, object]]] = []

        async def run_live() -> str:
            app = CockpitApp(live, tick=0)

            def health(sid: str) -> str:
                return next(h.status.value for h in live.health() if h.service == sid)

            async with app.run_test(size=(120, 40)) as pilot:
                await until(pilot, lambda: health("database") == "ok" and health("cache") == "ok",
                            "both services OK")
                await asyncio.to_thread(live.declare, "Cache and DB outage", "P1",
                                        ["database", "cache"], None)
                await until(pilot, lambda: live.incident_id is not None, "declared")
                await asyncio.to_thread(live.assign, "commander", "alice")
                moments.append(await save(pilot, app, live, "moment 1: declared"))

                # the cache goes down; a step runs; a note
                redis.kill()
                redis.wait(10)
                await until(pilot, lambda: health("cache") == "fail", "Redis DOWN")
                rb = live.runbooks.library().library.get("drill")
                step = rb.steps[0]
                await asyncio.to_thread(live.runbooks.execute, rb, step, {}, None,
                                        StepState("drill", step.id))
                await until(pilot, lambda: live.runbooks.states("drill").get(
                    ("drill", "promote"), StepState("drill", "promote")).state == "succeeded",
                    "the step succeeded")
                await asyncio.to_thread(live.note, "action", "failing over the cache")
                moments.append(await save(pilot, app, live, "moment 2: Redis down"))

                # the cache comes back on the same port, the database goes down
                servers.append(start_redis(tmp_path, rport, "--save", "3600 1")[0])
                pg.stop("primary")
                await until(pilot, lambda: health("cache") == "ok"
                            and health("database") == "fail", "Redis back, PostgreSQL DOWN")
                await asyncio.to_thread(live.assign, "commander", "bob")
                await asyncio.to_thread(live.set_status, "responding")
                moments.append(await save(pilot, app, live, "moment 3: PostgreSQL down"))
                assert live.incident_id is not None
                return live.incident_id

        iid = asyncio.run(run_live())
    finally:
        pg.close()
        for proc in servers:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)

    # the three moments differ (the test would prove nothing otherwise)
    assert len({str(m[1]["health"]) for m in moments}) == 3
    # captured, then reviewed from the bundle alone: its journals, its runbooks, its
    # (redacted) configuration; the state directory and the runbook files are gone
    bundle = tmp_path / "incident.tar"
    capture(state, iid, bundle, config=load_config(cfg_path))
    shutil.rmtree(state)
    shutil.rmtree(rbdir)
    cfg_path.unlink()
    for i, (t, shot) in enumerate(moments, 1):
        review, close = open_review(str(bundle), tmp_path / "nowhere")
        assert isinstance(review, ReviewSession) and review.plan.services  # from the bundle
        review.seek(t)

        async def run_review(review: ReviewSession = review) -> dict[str, object]:
            app = ReviewApp(review)
            async with app.run_test(size=(120, 40)) as pilot:
                await pilot.pause()
                app.refresh_view()
                await pilot.pause()
                return {**panes(app), "steps": steps(review)}

        try:
            got = asyncio.run(run_review())
        finally:
            close()
        for pane in ("health", "clocks", "log", "steps"):
            assert got[pane] == shot[pane], f"moment {i}, {pane} (t={t}, review at {review.t}, end {review.timeline.end})"
