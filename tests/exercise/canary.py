"""A runbook whose every command would create a file (the canary): in an exercise none of
those files may ever exist."""

from __future__ import annotations

from pathlib import Path

CANARY_RUNBOOK = """
[runbook]
id = "aaa-canary"
title = "Canary: every command creates a file"
services = ["database"]
priority = "P0"

[[steps]]
id = "touch"
title = "Create the canary file"
command = ["touch", "{canary}/step"]
timeout = "10s"

[steps.verify]
command = ["touch", "{canary}/verify"]

[steps.rollback]
title = "Create the rollback canary"
command = ["touch", "{canary}/rollback"]

[[steps]]
id = "shell"
title = "Create it through a shell, destructively"
shell = "touch {canary}/shell && rm -rf {canary}/nothing"
destructive = true
requires_confirmation_of = "database"

[[params]]
name = "canary"
type = "path"
default = "CANARY_DIR"
"""


def write_canary_runbook(dir: Path, canary_dir: Path) -> Path:
    dir.mkdir(parents=True, exist_ok=True)
    canary_dir.mkdir(parents=True, exist_ok=True)
    f = dir / "canary.toml"
    f.write_text(CANARY_RUNBOOK.replace("CANARY_DIR", str(canary_dir)))
    return f
