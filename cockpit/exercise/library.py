"""The built-in scenario library (``runbooks/exercises/*.toml``, package data next to the
runbooks; the demo is one of them) and finding a scenario by id or path."""

from __future__ import annotations

from pathlib import Path

from ..document import load_toml
from ..scenario import scenario_dir
from .schema import CATEGORIES
from .store import ExerciseError

__all__ = ["CATEGORIES", "find_scenario", "library_files", "read_scenario"]


def library_files() -> list[Path]:
    """Every scenario file of the built-in library, by name."""
    return sorted(p for p in scenario_dir().glob("*.toml") if p.is_file())


def find_scenario(ref: str) -> tuple[Path, str]:
    """(path, source) of a scenario given as a file path or a library id."""
    p = Path(ref)
    if p.suffix == ".toml" or "/" in ref:
        if not p.is_file():
            raise ExerciseError(f"{ref}: no such scenario file")
        return p, str(p)
    lib = scenario_dir() / f"{ref}.toml"
    if lib.is_file():
        return lib, f"library:{ref}"
    known = ", ".join(f.stem for f in library_files())
    raise ExerciseError(f"no scenario {ref!r}: neither a file nor one of the library's "
                        f"({known})")


def read_scenario(path: Path) -> tuple[dict[str, object], str]:
    """The parsed TOML and the text of a scenario file (``DocumentError`` on bad TOML)."""
    return load_toml(path)
