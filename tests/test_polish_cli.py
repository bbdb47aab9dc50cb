"""POLISH 11 of the ux review: `cockpit incident list` keeps its columns aligned whatever the
ids' lengths, and a missing incident reads the same (and exits 1) in every command."""

from __future__ import annotations

import pytest

from cockpit.cli.main import main
from cockpit.incident.store import IncidentStore


@pytest.fixture
def state(tmp_path):
    d = tmp_path / "state"
    store = IncidentStore(d, author="alice")
    store.declare("db", "P0", ["database"])
    store.declare("A much longer title for a much longer incident id", "P3", ["web"])
    store.close()
    return d


def test_polish11_incident_list_columns_align(state, capsys):
    assert main(["--state-dir", str(state), "incident", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    ids = [line.split()[0] for line in lines]
    assert len(ids[0]) != len(ids[1])  # the case of the review: ids of different lengths
    cols = [line.index(" P") for line in lines]  # where the severity column starts
    assert cols[0] == cols[1], lines
    status = [line.index("declared") for line in lines]
    assert status[0] == status[1], lines


@pytest.mark.parametrize("argv", [
    ["log", "nosuch"],
    ["verify", "nosuch"],
    ["incident", "note", "nosuch", "hello"],
    ["incident", "status", "nosuch", "responding"],
    ["incident", "assign", "nosuch", "commander", "bob"],
], ids=["log", "verify", "note", "status", "assign"])
def test_polish11_a_missing_incident_reads_the_same_everywhere(state, capsys, argv):
    rc = main(["--state-dir", str(state), *argv])
    err = capsys.readouterr().err
    assert rc == 1, err
    assert err.strip() == f"cockpit: no such incident: nosuch (in {state})", err
