"""Offline verification of an incident's hash chains (read-only: never fixes anything)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .authorship import owner_problem, shared_dir
from .model import check_incident_id, incident_dir, journal_dir
from .reader import _no_gc, journal_files, read_file
from .validate import is_unreadable, unreadable_line


@dataclass(frozen=True)
class BadRecord:
    file: Path
    seq: int
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: seq {self.seq}: {self.reason}"


@dataclass
class VerifyResult:
    ok: bool
    count: int = 0  # records proven by their chains
    files: int = 0
    first_bad: BadRecord | None = None
    notes: list[str] = field(default_factory=list)  # pending / torn tails (not damage)
    heads: list[tuple[str, int, str]] = field(default_factory=list)  # (writer, seq, hash)
    # hash-valid records that are not well-formed: "unreadable record from W seq N: why"
    unreadable: list[str] = field(default_factory=list)
    # shared mode: writer files whose owner is not the account their session-start names
    authorship: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """Chains intact, every record well-formed, every writer who it says it is."""
        return self.ok and not self.unreadable and not self.authorship


def verify_incident(state_dir: Path, incident_id: str) -> VerifyResult:
    """Check every writer file: header, each record's SHA-256, seq and prev chain.

    A live writer's unfinished record and a dead writer's torn tail are notes, not
    damage (they were never acknowledged). Anything else stops at the first bad record.
    Limits: the chain cannot show a cut-off tail or a deleted whole file on its own.
    """
    check_incident_id(incident_id)
    with _no_gc():
        return _verify(Path(state_dir), incident_id)


def _verify(state_dir: Path, incident_id: str) -> VerifyResult:
    if not incident_dir(Path(state_dir), incident_id).is_dir():
        return VerifyResult(False, first_bad=BadRecord(
            incident_dir(Path(state_dir), incident_id), 0, 0, "no such incident"))
    res = VerifyResult(True)
    shared = shared_dir(journal_dir(Path(state_dir), incident_id))
    for path in journal_files(Path(state_dir), incident_id):
        res.files += 1
        try:
            st = read_file(path, incident_id, recover=False)
        except OSError as e:
            res.ok = False
            res.first_bad = BadRecord(path, 0, 1, f"cannot read: {e.strerror or e}")
            return res
        fs = st.scan
        res.count += fs.seq if fs.damage is None else len([e for e in fs.entries if e.verified])
        res.unreadable += [unreadable_line(e) for e in fs.entries if is_unreadable(e)]
        if shared and st.owner is not None:
            problem = owner_problem(path, st.owner, fs.entries)
            if problem:
                res.authorship.append(problem)
        if fs.damage is not None:
            line, seq, reason = fs.damage
            res.ok = False
            res.first_bad = BadRecord(path, seq, line, reason)
            return res
        if fs.entries:
            last = fs.entries[-1]
            res.heads.append((last.writer, last.seq, last.hash))
        if st.live and fs.tail:
            res.notes.append(f"{path}: a record is being written (live writer)")
        elif st.note:
            res.notes.append(st.note)
    return res
