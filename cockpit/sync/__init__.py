"""Journal sync across bastions through an S3 bucket (issue 14).

Each writer's journal file is append-only and never shared, so sync cannot conflict: a
bastion pushes its own writers' new records as immutable segments (conditional put, keys
unique per writer and sequence range) and pulls the other writers' segments into local
mirror files, appended only after their hashes and chains are checked. See ``engine``.

API::

    engine = make_engine(config.sync, state_dir, mode=config.mode)
    report = engine.run(only=None)      # blocking; bounded by [sync] deadline
    engine.waiting()                    # local records not in the bucket (no network)

The core never imports Textual.
"""

from __future__ import annotations

from pathlib import Path

from ..config import SyncConfig
from .engine import ROOTS, Engine, Report
from .s3 import Bucket, SyncDeadline, SyncError


def make_engine(cfg: SyncConfig, state_dir: Path, *, mode: str = "personal",
                environ: dict[str, str] | None = None) -> Engine:
    return Engine(Bucket(cfg, environ), Path(state_dir), mode=mode)


__all__ = ["ROOTS", "Bucket", "Engine", "Report", "SyncDeadline", "SyncError", "make_engine"]
