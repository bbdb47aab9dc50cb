"""The exercise session: who sees which inject, one incident per exercise, scenario time on
every clock the UI reads, and the facilitator's refusals."""

from __future__ import annotations

import pytest

from cockpit.exercise.store import ExerciseError
from cockpit.incident.store import IncidentError
from cockpit.session.exercise import ExerciseSession, Facilitator

from .helpers import T0, Exercise, library_scenario


@pytest.fixture
def x(tmp_path):
    _s, text = library_scenario("database-loss")
    ex = Exercise(tmp_path / "state", text)
    yield ex
    ex.close()


def session(x: Exercise, author: str, **kw) -> ExerciseSession:
    return ExerciseSession(x.state, x.id, wall=x.wall, author=author, **kw)


def injects(s: ExerciseSession) -> set[str]:
    return {e.data["inject"] for e in s.view().entries if e.kind == "inject"}


def test_injects_reach_everyone_or_their_role(x):
    x.at(17)  # past the customers' emails (communications, T+7m) and the CTO (commander, 16m)
    nobody = session(x, "dave")
    comms = session(x, "carol", roles=["communications"])
    fac = session(x, "fac", facilitator=True)
    try:
        assert {"briefing", "primary-down"} <= injects(nobody)
        assert "customers" not in injects(nobody) and "cto" not in injects(nobody)
        assert "customers" in injects(comms) and "cto" not in injects(comms)
        assert {"customers", "cto"} <= injects(fac)
        # a role assigned in the incident to the player's account counts too
        x.write("alice", "incident.declared", {"title": "t", "severity": "P0", "services": [],
                                               "exercise": x.id})
        x.write("alice", "role.assigned", {"role": "commander", "person": "dave"})
        nobody.poll()
        assert "cto" in injects(nobody) and "customers" not in injects(nobody)
    finally:
        for s in (nobody, comms, fac):
            s.stop()


def test_the_sessions_clock_is_scenario_time(x):
    s = session(x, "alice")
    try:
        x.at(2)
        assert s.clock.now() == pytest.approx(T0 + 120) and s.view().now == s.clock.now()
        x.clock("pause")
        x.at(10)
        s.poll()
        assert s.clock.now() == pytest.approx(T0 + 120) and s.view().paused
        x.clock("resume")
        x.at(12)
        x.clock("end")
        x.at(20)
        s.poll()
        assert not s.view().paused  # ended, not paused: the ENDED banner says so
        assert any("ENDED" in b.text for b in s.view().banners)
    finally:
        s.stop()


def test_one_incident_per_exercise(x):
    s = session(x, "alice")
    try:
        x.at(3)
        with pytest.raises(IncidentError, match="unknown service 'mainframe'"):
            s.declare("x", "P1", ["mainframe"], None)
        with pytest.raises(IncidentError, match="impact start is in the future"):
            s.declare("x", "P1", [], T0 + 600)
        s.declare("db down", "P0", ["database"], T0 + 120)
        decl = [e for e in s.journal_entries() if e.kind == "incident.declared"]
        assert decl[0].data == {"title": "db down", "severity": "P0", "services": ["database"],
                                "exercise": x.id, "impact_start": T0 + 120}
        with pytest.raises(IncidentError, match="already declared"):
            s.declare("again", "P1", [], None)
        with pytest.raises(IncidentError, match="one incident"):
            s.follow("20990101-000000-other-0000")
        assert s.incidents() == []
    finally:
        s.stop()


def test_the_facilitator_refuses_what_cannot_be(x):
    s = session(x, "fac", facilitator=True)
    f = Facilitator(s)
    try:
        with pytest.raises(ExerciseError, match="no spare inject"):
            f.fire_spare("nope")
        f.fire_spare("parallel-restore")
        with pytest.raises(ExerciseError, match="already fired"):
            f.fire_spare("parallel-restore")
        with pytest.raises(ExerciseError, match="from 1x to 60x"):
            f.set_speed(100)
        with pytest.raises(ExerciseError, match="no expected outcome"):
            f.mark("nope", "met", "")
        x.at(31)
        with pytest.raises(ExerciseError, match="No scheduled inject left"):
            f.jump_next()
        f.end("done")
        for action in (f.toggle, f.jump_next, lambda: f.set_speed(2)):
            with pytest.raises(ExerciseError, match="has ended"):
                action()
        assert "EXERCISE ENDED at T+0:31:00" in " ".join(b.text for b in s.view().banners)
    finally:
        s.stop()


def test_a_player_who_joined_is_counted_before_writing_anything(x):
    import asyncio

    from cockpit.exercise.report import render

    fac = session(x, "fac", facilitator=True, joins=True)  # a facilitator never joins
    carol = session(x, "carol", roles=["communications"], joins=True)
    dave = session(x, "dave", joins=True)
    viewer = session(x, "vera")  # anything that only reads does not join

    async def open_cockpits() -> None:
        tasks = [asyncio.create_task(s.run(lambda: None)) for s in (fac, carol, dave, viewer)]
        for _ in range(200):
            await asyncio.sleep(0.02)
            if len(fac.timeline().authors()) == 2:
                break
        await asyncio.sleep(0.3)  # time enough for a wrong join to land
        for s in (fac, carol, dave, viewer):
            s.stop()
        await asyncio.gather(*tasks)

    try:
        assert fac.timeline().roster() == []
        asyncio.run(open_cockpits())
        fac.poll()
        tl = fac.timeline()
        # neither wrote an entry; the facilitator's own cockpit is not a player
        assert tl.players == ()
        assert tl.roster() == ["carol (communications)", "dave"]
        text = render(tl, x.wall.now())
        assert "| Players | carol (communications), dave |" in text
        # once the exercise has ended, opening a player's cockpit to look back joins nobody
        x.clock("end")
        late = session(x, "erin", joins=True)

        async def look_back() -> None:
            task = asyncio.create_task(late.run(lambda: None))
            await asyncio.sleep(0.5)
            late.stop()
            await task

        asyncio.run(look_back())
        fac.poll()
        assert fac.timeline().roster() == ["carol (communications)", "dave"]
    finally:
        for s in (fac, carol, dave, viewer):
            s.stop()


def test_a_join_that_cannot_open_the_journal_says_so(x):
    import asyncio

    from cockpit.journal.model import incident_dir
    from cockpit.session.protocol import BannerLevel

    out = incident_dir(x.state / "exercises", x.id) / "outputs"
    out.rmdir()
    out.write_text("not a directory")  # the journal cannot be opened here
    carol = session(x, "carol", roles=["communications"], joins=True)

    async def open_cockpit() -> None:
        task = asyncio.create_task(carol.run(lambda: None))
        for _ in range(100):
            await asyncio.sleep(0.02)
            if any(b.key == "join" for b in carol.view().banners):
                break
        carol.stop()
        await task

    try:
        asyncio.run(open_cockpit())
        b = next(b for b in carol.view().banners if b.key == "join")
        assert b.level == BannerLevel.WARNING
        assert b.text.startswith("COULD NOT RECORD THAT YOU JOINED")
        assert carol.timeline().roster() == []
    finally:
        carol.stop()
