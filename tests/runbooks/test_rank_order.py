"""M10 of the ux review: when runbooks tie, the failing service's own runbook order from
cockpit.toml (``services.X.runbooks``) decides, not the alphabet; the navigator gets it."""

from __future__ import annotations

from pathlib import Path

from cockpit.config import Config, Milestones, ServiceConfig
from cockpit.runbooks.library import Library, builtin_dir
from cockpit.runbooks.loader import load_runbook
from cockpit.session.live import LiveSession


def _lib() -> Library:
    return Library([load_runbook(builtin_dir() / "data-loss.toml"),
                    load_runbook(builtin_dir() / "database.toml")])


def test_m10_tie_broken_by_the_services_runbook_order():
    lib = _lib()
    assert [r.id for r in lib.rank({"database"})][:2] == ["data-loss", "database"]  # alphabet
    links = {"database": ["database", "data-loss"]}
    assert [r.id for r in lib.rank({"database"}, links)][:2] == ["database", "data-loss"]
    links = {"database": ["data-loss", "database"]}
    assert [r.id for r in lib.rank({"database"}, links)][:2] == ["data-loss", "database"]


def test_m10_navigator_library_carries_the_links(tmp_path: Path):
    cfg = Config(path=None, environment="t", mode="personal", milestones=Milestones(),
                 services={"database": ServiceConfig("database", "PostgreSQL", "P0", 3600.0,
                                                     900.0, runbooks=("database", "data-loss"))})
    env = LiveSession(cfg, tmp_path / "state", probes=False)
    try:
        lib = env.runbooks.library()
        assert lib.links == {"database": ("database", "data-loss")}
        assert lib.library.rank({"database"}, lib.links)[0].id == "database"
    finally:
        env.stop()
