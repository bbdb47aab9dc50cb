from __future__ import annotations

import tomllib

from cockpit.journal import read_snapshot, write_snapshot


def test_snapshot_round_trip_and_is_cat_safe(tmp_path):
    p = tmp_path / "snapshot.toml"
    data = {"covers": {"w-a-1-x": {"seq": 5, "hash": "sha256:00"}}, "title": "DB \x1b[2J\u202e",
            "steps": [{"n": 1, "state": "done"}], "n": 3}
    write_snapshot(p, data)
    raw = p.read_bytes()
    assert b"\x1b" not in raw and "\u202e".encode() not in raw
    assert tomllib.loads(raw.decode()) == data == read_snapshot(p)
    write_snapshot(p, {"n": 4})
    assert read_snapshot(p) == {"n": 4}
    assert [x.name for x in tmp_path.iterdir()] == ["snapshot.toml"]


def test_read_snapshot_missing_or_broken(tmp_path):
    assert read_snapshot(tmp_path / "nope.toml") is None
    (tmp_path / "b.toml").write_text("x = ")
    assert read_snapshot(tmp_path / "b.toml") is None


def test_dead_writers_temp_files_are_cleaned(tmp_path):
    p = tmp_path / "snapshot.toml"
    (tmp_path / "snapshot.toml.999999999.abcd.tmp").write_text("partial")
    write_snapshot(p, {"a": 1})
    assert sorted(x.name for x in tmp_path.iterdir()) == ["snapshot.toml"]
