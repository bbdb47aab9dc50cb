"""The post-incident review: every figure is the incident's, through the same clock functions
the cockpit shows (table-driven: met, missed, a service never recovered, RPO unknown);
untrusted text cannot inject Markdown; the human sections are marked; ``pir --done`` and the
overdue review in ``incident list`` and ``metrics``."""

from __future__ import annotations

import json
import re
import time

import pytest
from test_metrics import CASES, EXPECT, SERVICES
from test_metrics import T0 as MT0

from cockpit.cli.main import main
from cockpit.incident.clocks import Level, incident_clocks
from cockpit.incident.fold import fold
from cockpit.incident.metrics import REVIEW_DUE, incident_metrics, rpo_achieved
from cockpit.plan import Milestones
from cockpit.review.pir import HUMAN, Source, md, render
from cockpit.timeutil import format_duration, short_duration

from .helpers import IID, T0, entries_of, write_incident

M = Milestones()
NOW = T0 + 3 * 3600


def _shifted(case):
    """The metrics tests' incident, moved from their T0 (in the future) to ours."""
    out = []
    for e in CASES[case]:
        d = dict(e.data)
        if "impact_start" in d:
            d["impact_start"] = d["impact_start"] - MT0 + T0
        out.append((e.ts - MT0, e.kind, d))
    return out


def _write(state, case, iid=IID):
    return write_incident(state, _shifted(case), iid=iid)


def _row(text: str, first_cell: str) -> list[str]:
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row {first_cell!r} in the review")


@pytest.mark.parametrize("case", sorted(CASES))
def test_pir_figures_are_the_clocks_of_the_incident(tmp_path, case):
    state = tmp_path / "state"
    _write(state, case)
    entries = entries_of(state)  # read back from the journal: the figures are the incident's
    text = render(entries, SERVICES, M, NOW, Source(IID, "test", "test"))
    inc = fold(entries)
    m = incident_metrics(entries, SERVICES, M, NOW)
    assert inc is not None and m is not None
    clocks = {c.key: c for c in incident_clocks(inc, SERVICES, {}, M, m.measured_at)}
    for s in SERVICES:
        cells = _row(text, s.title)
        rto = clocks[f"rto:{s.id}"]
        assert cells[1] == short_duration(rto.target)
        if rto.done:
            assert cells[2] == format_duration(rto.elapsed)
            assert cells[3] == ("MET" if rto.elapsed <= rto.target else "MISSED")
        else:  # never recovered: no achieved time, and breached while running
            assert cells[2].startswith("not recovered")
            assert cells[3] == ("MISSED (still running)" if rto.elapsed > rto.target
                                else "running")
        if s.rpo is not None:
            got = rpo_achieved(entries, s.id)
            assert cells[4] == short_duration(s.rpo)
            if got is None:
                assert cells[5].startswith("unknown") and cells[6].startswith("UNKNOWN")
            else:
                assert cells[5] == format_duration(got)
                assert cells[6] == ("MET" if got <= s.rpo else "MISSED")
    for key, label in (("milestone:detect", "Detect"), ("milestone:respond", "Respond"),
                       ("milestone:communicate", "Communicate")):
        c = clocks[key]
        cells = _row(text, label)
        if c.level == Level.UNMET:  # the incident ended without it: never done, missed
            assert cells[2] == "-" and cells[4].startswith("MISSED"), cells
        elif c.done:
            assert cells[2] == format_duration(c.elapsed)
            assert cells[4] == ("MET" if c.elapsed <= c.target else "MISSED")
        else:
            assert cells[2] == "-" and cells[4].startswith(("MISSED", "running"))
    # and the independent table of the metrics tests agrees with what the review says
    for key, (achieved, met) in EXPECT[case].items():
        if achieved is None or not key.startswith(("rto:", "rpo:")):
            continue
        sid = key.split(":", 1)[1]
        title = next(s.title for s in SERVICES if s.id == sid)
        cells = _row(text, title)
        col = 2 if key.startswith("rto:") else 5
        assert cells[col] == format_duration(achieved)
        assert cells[col + 1] == ("MET" if met else "MISSED")


def test_pir_sections_timeline_steps_comms_roles(tmp_path):
    state = tmp_path / "state"
    write_incident(state, [
        (0, "incident.declared", {"title": "db lost", "severity": "P0",
                                  "services": ["database"], "impact_start": T0 - 60}),
        (10, "role.assigned", {"role": "commander", "person": "alice"}),
        (20, "role.assigned", {"role": "commander", "person": "bob", "handover_from": "alice"}),
        (30, "step.claimed", {"runbook": "database", "step": "promote", "attempt": 1,
                              "run": "r1", "confirmation": "database"}),
        (31, "step.started", {"runbook": "database", "step": "promote", "attempt": 1,
                              "run": "r1"}),
        (45, "step.succeeded", {"runbook": "database", "step": "promote", "attempt": 1,
                                "run": "r1", "exit_code": 0, "duration": 13.5}),
        (60, "note", {"type": "communication", "text": "status page updated"}),
        (70, "health", {"service": "database", "status": "fail", "rpo_exposure": 120.0}),
        (75, "health", {"service": "database", "status": "fail", "rpo_exposure": 130.0}),
        (900, "health", {"service": "database", "status": "ok"}),
        (1000, "incident.status", {"status": "recovered"}),
    ])
    text = render(entries_of(state), SERVICES, M, NOW, Source(IID, "test", "test"))
    assert re.search(r"\| database / promote \| 1 \| succeeded \| 13s \| alice \|", text), text
    assert "status page updated" in text
    assert re.search(r"\| commander \| bob \| alice \| alice \|", text)
    # the flight recorder's figure-only entry (same status) is not a timeline event
    assert sum(1 for line in text.splitlines() if "health: database DOWN" in line) == 1  # the word the pane shows
    for heading in ("## 1. Incident documentation", "## 2. Root cause analysis",
                    "## 3. Action items tracking", "## 4. Lessons learned",
                    "### What went well", "### What went wrong", "### Where we got lucky"):
        assert heading in text
    assert text.count(HUMAN) == 3


HOSTILE = ("<script>alert(1)</script> [click](http://evil.example) ![img](x) "
           "# Heading\n## Injected\n| cell | break | https://evil.example www.evil.example "
           "mail@evil.example &lt; `code` **bold** \x1b[31mred\u202e")


def test_untrusted_text_cannot_inject_markdown(tmp_path):
    state = tmp_path / "state"
    write_incident(state, [
        (0, "incident.declared", {"title": HOSTILE, "severity": "P0", "services": ["database"]}),
        (5, "note", {"type": "communication", "text": HOSTILE}),
        (6, "role.assigned", {"role": "scribe", "person": HOSTILE[:200]}),
    ], author=HOSTILE[:100])
    text = render(entries_of(state), SERVICES, M, NOW, Source(IID, "test", "test"))
    assert "\x1b" not in text and "\u202e" not in text
    hostile_lines = [line.removeprefix("# Post-incident review: ")
                     for line in text.splitlines() if "evil" in line]
    assert len(hostile_lines) >= 3  # title, timeline, communication
    for line in hostile_lines:
        # nothing that starts markup, HTML, an entity, a link or an autolink is left bare
        assert not re.search(r"(?<!\\)[<>\[\]`&@*_#~]", line), line
        assert not re.search(r"[A-Za-z]://", line) and "www.evil" not in line
    # every heading is the review's own
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert all("Injected" not in h for h in headings[1:])  # the first: the title, escaped
    assert headings[0].startswith("# Post-incident review: ")
    # table rows keep their columns: a | in the text is escaped
    comms = [line for line in text.splitlines() if "evil" in line and line.startswith("| 20")]
    for line in comms:
        assert len(re.findall(r"(?<!\\)\|", line)) in (4, 6)
    assert md("a|b") == "a\\|b"


def test_pir_done_journals_the_review_and_overdue_shows(tmp_path, capsys):
    state = tmp_path / "state"
    _write(state, "met")
    # closed at T0+3000: now (the real clock) is years later, the review is overdue
    assert main(["incident", "list", "--state-dir", str(state)]) == 0
    assert "REVIEW OVERDUE" in capsys.readouterr().out
    assert main(["metrics", "--state-dir", str(state), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["incidents"][0]["review_overdue"] is True
    assert doc["totals"]["reviews_overdue"] == 1
    review = tmp_path / "pir.md"
    assert main(["pir", IID, "--state-dir", str(state), "-o", str(review)]) == 0
    assert main(["pir", "--done", IID, str(review), "--state-dir", str(state)]) == 0
    capsys.readouterr()
    done = [e for e in entries_of(state) if e.kind == "review.done"]
    assert len(done) == 1 and done[0].data["file"] == "pir.md"  # a known kind: not unreadable
    assert main(["incident", "list", "--state-dir", str(state)]) == 0
    assert "REVIEW OVERDUE" not in capsys.readouterr().out
    assert main(["metrics", "--state-dir", str(state), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["incidents"][0]["review_overdue"] is False
    assert doc["totals"]["reviews_overdue"] == 0
    # done late (years after closing): not within 7 days
    assert doc["totals"]["reviews_on_time_percent"] == 0.0
    assert doc["incidents"][0]["review_due"] == pytest.approx(T0 + 3000 + REVIEW_DUE)


def test_metrics_text_and_since(tmp_path, capsys):
    state = tmp_path / "state"
    for i, case in enumerate(sorted(CASES)):
        _write(state, case, iid=f"20270115-08000{i}-case-abcd")
    assert main(["metrics", "--state-dir", str(state)]) == 0
    out = capsys.readouterr().out
    assert out.count("20270115-0800") == 4
    from cockpit.incident.metrics import compliance
    from cockpit.review.pir import PLAN_TARGETS

    now = time.time()
    c = compliance([m for i in range(4) if (m := incident_metrics(
        entries_of(state, f"20270115-08000{i}-case-abcd"), PLAN_TARGETS, M, now))], now)
    assert c.rto_percent is not None and c.rpo_percent is not None
    assert f"RTO compliance {c.rto_percent:g}%" in out
    assert f"RPO compliance {c.rpo_percent:g}%" in out
    assert main(["metrics", "--state-dir", str(state), "--since", "90d"]) == 0
    assert "Incidents: none" in capsys.readouterr().out  # all declared in 2023, long ago


def test_a_bundles_figures_are_measured_when_it_was_captured(tmp_path, capsys):
    """An open incident's bundle: the review's figures are those of the capture, the same
    however much later the review is written (not the time it is run)."""
    from cockpit.review.bundle import capture

    state = tmp_path / "state"
    _write(state, "never-recovered")  # still failing, never closed: its clocks run
    bundle = tmp_path / "b.tar"
    taken = T0 + 2 * 3600
    capture(state, IID, bundle, now=taken)
    outs = []
    for _ in range(2):
        assert main(["pir", str(bundle)]) == 0
        outs.append(capsys.readouterr().out)
        time.sleep(1.1)
    assert outs[0] == outs[1]
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(taken))
    assert f"| Figures measured at | {stamp}" in outs[0], [
        line for line in outs[0].splitlines() if "measured at" in line]


def test_pir_done_is_refused_while_the_incident_is_open(tmp_path, capsys):
    state = tmp_path / "state"
    _write(state, "never-recovered")  # declared, never closed
    review = tmp_path / "pir.md"
    review.write_text("# review\n")
    assert main(["pir", "--done", IID, str(review), "--state-dir", str(state)]) == 1
    err = capsys.readouterr().err
    assert "not closed" in err and len(err.strip().splitlines()) == 1, err
    assert not [e for e in entries_of(state) if e.kind == "review.done"]
