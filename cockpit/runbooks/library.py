"""The runbook library: the runbooks of a set of files and directories, ranked by what is
failing, and the built-in library shipped with the package (``cockpit.runbooks.builtin``,
the top-level ``runbooks/`` folder of the checkout)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .model import Runbook


@dataclass(frozen=True)
class Library:
    runbooks: tuple[Runbook, ...] = ()
    dirs: tuple[Path, ...] = field(default_factory=tuple)

    def __iter__(self) -> Iterator[Runbook]:
        return iter(self.runbooks)

    def __len__(self) -> int:
        return len(self.runbooks)

    def get(self, runbook_id: str) -> Runbook:
        for r in self.runbooks:
            if r.id == runbook_id:
                return r
        raise KeyError(runbook_id)

    @property
    def step_count(self) -> int:
        return sum(len(r.steps) for r in self.runbooks)

    def for_service(self, service: str) -> list[Runbook]:
        return [r for r in self.runbooks if service in r.services]

    def covered(self, runbook: Runbook, failing_services: Iterable[str],
                links: Mapping[str, Iterable[str]] | None = None) -> set[str]:
        """The failing services a runbook covers: listed in its ``services``, or linked to it
        by ``links`` (service id -> runbook ids, i.e. ``ServiceConfig.runbooks``)."""
        out = set(failing_services).intersection(runbook.services)
        for svc in failing_services:
            if links and runbook.id in (links.get(svc) or ()):
                out.add(svc)
        return out

    def rank(self, failing_services: Iterable[str],
             links: Mapping[str, Iterable[str]] | None = None) -> list[Runbook]:
        """All runbooks, those covering failing services first: by how many failing services
        they cover, then the order a failing service lists them in cockpit.toml (``links``:
        service id -> runbook ids, its own runbook first; M10), then priority (P0 first),
        then id. The rest follow by priority, id. ``links`` also adds coverage."""
        failing = set(failing_services)
        order: dict[str, int] = {}
        for svc in sorted(failing):
            for i, rid in enumerate((links or {}).get(svc) or ()):
                order[rid] = min(order.get(rid, i), i)
        last = len(order) + 1_000

        def key(r: Runbook) -> tuple[int, int, str, str]:
            covered = self.covered(r, failing, links)
            pos = order.get(r.id, last) if covered else last
            return (-len(covered), pos, r.priority, r.id)

        return sorted(self.runbooks, key=key)


def builtin_dir() -> Path:
    """The built-in library: package data ``cockpit.runbooks.builtin`` (in a checkout, the
    ``runbooks/`` folder; installed, inside the package)."""
    return Path(str(resources.files("cockpit.runbooks.builtin")))


def library_paths(extra_dirs: Iterable[str | Path]) -> list[Path]:
    """Where the runbooks come from, the same for the cockpit and ``cockpit runbooks``: the
    configured ``runbook_dirs`` first (a runbook there wins its id), then the built-in
    library."""
    builtin = builtin_dir()
    extra = [Path(d) for d in extra_dirs if Path(d).resolve() != builtin.resolve()]
    return [*extra, builtin]


def check_against_config(library: Library, config: object) -> list:
    """Runbooks that name what ``config`` (cockpit.toml) does not have: a service it does
    not define, a ``from_config`` key under a service it does not define. The built-in
    library is generic and not checked. Each problem is a ``DocumentError`` (file:line)."""
    from ..document import DocumentError, key_lines, locate

    services = dict(getattr(config, "services", {}) or {})
    where = getattr(config, "path", None) or "cockpit.toml"
    known = ", ".join(sorted(services)) or "none"
    builtin = builtin_dir().resolve()
    out: list[DocumentError] = []
    for rb in library:
        if rb.path is None or Path(rb.path).resolve().parent == builtin:
            continue
        try:
            lines = key_lines(Path(rb.path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            lines = {}
        for sid in rb.services:
            if sid not in services:
                out.append(DocumentError(rb.path, locate(lines, ("runbook", "services")),
                                         "runbook.services",
                                         f"unknown service {sid!r} (in {where}: {known})"))
        for i, p in enumerate(rb.params):
            key = p.from_config or ""
            parts = key.partition("#")[0].split(".")
            if len(parts) >= 2 and parts[0] == "services" and parts[1] not in services:
                out.append(DocumentError(rb.path, locate(lines, ("params", i, "from_config")),
                                         f"params[{i}].from_config",
                                         f"{key!r} names service {parts[1]!r}, not in {where} "
                                         f"({known})"))
    return sorted(out, key=lambda e: (e.file, e.line or 0))
