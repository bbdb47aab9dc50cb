"""The domain core never imports Textual: the CLI, review tools and tests share it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "cockpit"


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
            "import_module", "__import__"
        ) and node.args and isinstance(node.args[0], ast.Constant):
            names.append(str(node.args[0].value))
    return names


def test_no_module_under_cockpit_imports_textual():
    offenders = []
    for path in sorted(CORE.rglob("*.py")):
        for name in _imports(path):
            if name == "textual" or name.startswith("textual."):
                offenders.append(f"{path.relative_to(CORE.parent)} imports {name}")
    assert not offenders, "\n".join(offenders)


def test_importing_every_core_module_leaves_textual_unloaded():
    mods = []
    for path in sorted(CORE.rglob("*.py")):
        rel = path.relative_to(CORE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__main__":
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods.append(".".join(parts))
    code = (
        "import importlib, sys\n"
        f"for m in {mods!r}:\n"
        "    importlib.import_module(m)\n"
        "bad = [m for m in sys.modules if m == 'textual' or m.startswith('textual.')]\n"
        "print('LOADED', bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_boundary_check_catches_an_import(tmp_path):
    p = tmp_path / "bad.py"
    p.write_text("from textual.app import App\nimport importlib\nimportlib.import_module('textual')\n")
    assert _imports(p).count("textual.app") == 1 and "textual" in _imports(p)
