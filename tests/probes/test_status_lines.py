"""``cockpit status`` readable at 80 columns: one line per service (status word, key figure,
age, summary cut to fit), details with ``--verbose``, no repeated words, its own exit code
when the cockpit's own network is down."""

from __future__ import annotations

import argparse
import errno
import json
import socket

import pytest
from rich.cells import cell_len

from cockpit.cli import status as cli
from cockpit.config import Config, Milestones, ProbeConfig, ServiceConfig
from cockpit.health import ProbeResult, ServiceHealth, Status
from cockpit.probes import base
from cockpit.probes.selfcheck import NetworkState

T0 = 1_800_000_000.0
LONG = ("primary answers, replica streaming with 0 s of lag, WAL archived 2 minutes ago, "
        "412 of 500 connections, oldest transaction 3 s, wraparound far away, last restart 41 "
        "days ago, no long transactions, checkpoints on time, replication slots all active")


def config(probes: dict[str, list[ProbeConfig]]) -> Config:
    return Config(path=None, environment="t", mode="personal", milestones=Milestones(), services={
        sid: ServiceConfig(sid, title, "P1", None, None, probes=tuple(p))
        for (sid, title), p in probes.items()})


def run(capsys, cfg, tmp_path, *argv):
    parser = argparse.ArgumentParser()
    cli.add_parsers(parser.add_subparsers())
    args = parser.parse_args(["status", *argv])
    args.config, args.state_dir = cfg, tmp_path
    code = args.func(args)
    return code, capsys.readouterr().out


def health(word: Status, title: str, summary: str = LONG, figure: str = "lag 0 s") -> ServiceHealth:
    return ServiceHealth(title.lower(), title, word, summary, T0 - 7300, figure, probes={
        "main": ProbeResult(word, summary, T0 - 7300, error="a longer error text " * 6,
                            key_figure=figure)})


@pytest.mark.parametrize("width", [80, 100, 120, 200])
def test_one_line_per_service_cut_to_the_width_every_status_word(width):
    rows = [health(s, t) for s, t in ((Status.OK, "PostgreSQL"), (Status.WARN, "Backend API"),
                                      (Status.FAIL, "Frontend"), (Status.STALE, "Redis"),
                                      (Status.UNKNOWN, "A very long service title indeed"))]
    lines = [t.plain for t in cli.render(rows, NetworkState(), T0, width)]
    assert len(lines) == 1 + len(rows)  # the header, then one line each
    for line, h in zip(lines[1:], rows, strict=True):
        assert cell_len(line) <= width
        word = h.status.word
        assert line.startswith(word + " ")  # never "UNKNOWNPostgreSQL"
        assert line[cli.WORD:].startswith(h.title[:cli.TITLE - 2])
        assert "lag 0 s" in line and " 2h01m  " in line  # key figure and age
        assert line.index("2h01m") + 5 == lines[0].index("AGE") + 3  # right-aligned under AGE
        assert line.endswith("…")  # the summary cut to fit, never wrapped


def test_verbose_gives_every_probe_whole_summary_and_error_within_the_width():
    lines = [t.plain for t in cli.render([health(Status.FAIL, "PostgreSQL")], NetworkState(), T0, 80,
                                         verbose=True)]
    assert all(cell_len(x) <= 80 for x in lines)
    text = " ".join(x.strip() for x in lines)
    assert LONG in text and ("error: " + "a longer error text " * 6).strip() in text
    assert "Self-check: not looked" in text


def repeated(line: str) -> list[str]:
    """Two-word phrases a line says twice ("probe misconfigured: probe misconfigured")."""
    words = [w.strip(".,:;()[]'\"").lower() for w in line.split()]
    pairs = [f"{a} {b}" for a, b in zip(words, words[1:], strict=False) if a and b]
    return sorted({x for x in pairs if pairs.count(x) > 1})


def test_network_errors_say_things_once():
    _, dns = base.classify(socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"))
    assert dns == "name resolution failed: the resolver did not answer"
    assert base.classify(OSError(errno.ENETUNREACH, "Network is unreachable")) == \
        ("network", "network unreachable")
    assert base.classify(OSError(errno.EHOSTUNREACH, "No route to host")) == \
        ("network", "no route to host")
    assert repeated("probe misconfigured: probe misconfigured: x") == ["probe misconfigured"]


def test_status_at_80_columns_without_repeated_words(capsys, tmp_path, monkeypatch, refused_port):
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.delenv("COCKPIT_TEST_UNSET_PW", raising=False)
    cfg = config({
        ("database", "PostgreSQL"): [ProbeConfig("primary", "postgres", 15.0, 2.0, 3, 2, {
            "dsn": "host=127.0.0.1 port=1 dbname=x user=u", "password_env": "COCKPIT_TEST_UNSET_PW"})],
        ("backend", "Backend API"): [ProbeConfig("health", "tcp", 15.0, 2.0, 3, 2, {
            "host": "127.0.0.1", "port": refused_port})]})
    code, out = run(capsys, cfg, tmp_path)
    lines = out.splitlines()
    assert code == 2 and len(lines) == 3
    assert all(cell_len(x) <= 80 for x in lines)
    db = next(x for x in lines if "PostgreSQL" in x)
    assert db.startswith("UNKNOWN PostgreSQL")
    assert "probe misconfigured: password_env" in db
    assert "probe misconfigured: probe misconfigured" not in out
    assert [x for x in lines if repeated(x)] == []
    assert next(x for x in lines if "Backend API" in x).startswith("DOWN    Backend API")
    code, out = run(capsys, cfg, tmp_path, "--verbose")
    assert "COCKPIT_TEST_UNSET_PW is not set" in out and out.count("probe misconfigured") == 2
    assert [x for x in out.splitlines() if repeated(x)] == []
    assert all(cell_len(x) <= 80 for x in out.splitlines())


def test_own_network_down_has_its_own_exit_code_and_json(capsys, tmp_path, monkeypatch, blackhole,
                                                         refused_port):
    """An anchor that does not answer while nothing else does: the cockpit's own network is
    down; the probe hanging on a blackhole is UNKNOWN, not DOWN; exit 3."""
    monkeypatch.setenv("COLUMNS", "80")
    cfg = config({("backend", "Backend API"): [ProbeConfig("health", "tcp", 15.0, 1.0, 1, 1, {
        "host": "127.0.0.1", "port": blackhole.port})]})
    cfg = Config(**{**cfg.__dict__, "connectivity_anchors": (("127.0.0.1", refused_port),)})
    code, out = run(capsys, cfg, tmp_path)
    assert code == cli.EXIT_OWN_NETWORK == 3
    assert out.startswith("THE COCKPIT'S OWN NETWORK IS DOWN: none of the 1 connectivity anchors")
    assert "UNKNOWN Backend API" in out and "never answered (cockpit offline)" in out
    code, out = run(capsys, cfg, tmp_path, "--verbose")
    probe = next(x for x in out.splitlines() if x.startswith("  UNKNOWN health"))
    assert probe.split()[2] == "never"  # no answer ever: no age, not the failed run's
    assert "route beyond this machine: yes" in " ".join(out.split())
    code, out = run(capsys, cfg, tmp_path, "--json")
    doc = json.loads(out)
    assert code == doc["exit_code"] == 3
    assert doc["network"]["verdict"] == "offline"
    assert doc["network"]["anchors"] == [{"host": "127.0.0.1", "port": refused_port, "answers": False}]
    assert doc["services"][0]["status"] == "unknown"
    assert doc["services"][0]["probes"]["health"]["raw_status"] == "fail"
