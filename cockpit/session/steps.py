"""The runbook side of the seam: the library, step states and every step action.

``LiveSteps`` runs steps for real (claims, the detached supervisor, the journal) in the
followed incident (the demo and exercises rehearse: ``rehearsal.RehearsalSteps``). The
navigator calls these in worker threads: they block on the journal and file locks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..health import Status
from ..incident.store import IncidentError
from ..journal import Journal, incident_dir
from ..redact import redact_text
from ..runbooks import Runbook, Step, collect_library
from ..runbooks import state as S
from ..runbooks.claims import ClaimedBy, alive_checker
from ..runbooks.errors import StepError
from ..runbooks.launch import DryRun, confirmation_for, start, start_rollback
from ..runbooks.library import library_paths
from ..runbooks.process import display_tail, tail_bytes
from ..runbooks.state import StepState
from ..runbooks.verify import run_verify
from ..secrets import held_secrets, mask_bytes
from ..text import one_line
from .protocol import RunbookLibrary, StepOutput, StepResult

if TYPE_CHECKING:
    from .live import LiveSession

OUTPUT_TAIL = 16 * 1024


def load_library(dirs: tuple[Path, ...]) -> RunbookLibrary:
    """The runbooks of ``dirs`` then the built-in library (valid ones, every problem)."""
    lib, problems = collect_library(library_paths(dirs))
    return RunbookLibrary(lib, tuple(p.one_line() for p in problems))


class LibrarySteps:
    """The part of a ``Runbooks`` that only reads: the library of ``dirs`` (then the
    built-in one), parameters as each runbook gives them (no configuration). The demo's and
    an exercise's rehearsals and a review build on it."""

    def __init__(self, session: Any, dirs: tuple[Path, ...]) -> None:
        self.session = session
        self.dirs = dirs

    def library(self) -> RunbookLibrary:
        return load_library(self.dirs)

    def param_values(self, runbook: Runbook, given: Mapping[str, Any] | None) -> dict[str, Any]:
        return runbook.param_values(given, None)


def _result(res: Any, what: str) -> StepResult:
    if isinstance(res, ClaimedBy):
        return StepResult(f"Not started: {res}", warning=True)
    if isinstance(res, DryRun):
        return StepResult("Dry run: nothing was run", dry_run=res)
    return StepResult(f"{what}: done")


class StepMarks:
    """The marks an engineer sets on a step with a reason: journaled the same way whether
    the steps run (live) or are rehearsed (demo, exercise). ``_journal()``: where to."""

    def _journal(self) -> Any:
        raise NotImplementedError

    def skip(self, step: Step, state: StepState, reason: str) -> StepResult:
        S.skip(self._journal(), state, reason)
        return StepResult("skipped")

    def mark_failed(self, step: Step, state: StepState, reason: str) -> StepResult:
        S.mark_failed(self._journal(), state, reason)
        return StepResult("marked failed")

    def override(self, step: Step, state: StepState, reason: str) -> StepResult:
        S.override(self._journal(), state, reason)
        return StepResult("verify gate overridden")

    def retry(self, step: Step, state: StepState, reason: str) -> StepResult:
        S.retry(self._journal(), state, reason)
        return StepResult("retry allowed")


class LiveSteps(StepMarks):
    """Steps of the live session's followed incident, run for real."""

    def __init__(self, session: LiveSession, dirs: tuple[Path, ...]) -> None:
        self.session = session
        self.dirs = dirs

    def library(self) -> RunbookLibrary:
        lib = load_library(self.dirs)
        links = {sid: tuple(s.runbooks) for sid, s in self.session.config.services.items()
                 if s.runbooks}
        return replace(lib, links=links)

    def param_values(self, runbook: Runbook, given: Mapping[str, Any] | None) -> dict[str, Any]:
        return runbook.param_values(given, self.session.config)

    def _incident(self) -> str:
        iid = self.session.incident_id
        if iid is None:
            raise IncidentError("Declare an incident first (escape, then d): every step is "
                                "recorded in it.")
        return iid

    def _journal(self) -> Journal:
        return self.session.store.journal(self._incident())

    def states(self, runbook_id: str) -> dict[tuple[str, str], StepState]:
        iid = self.session.incident_id
        if iid is None:
            return {}
        steps_only = [e for e in self.session.entries() if e.kind.startswith("step.")]
        return S.step_states(steps_only, runbook_id,
                             alive=alive_checker(self.session.state_dir, iid))

    def output(self, state: StepState) -> StepOutput | None:
        iid = self.session.incident_id
        if iid is None:
            return None
        saved = state.output
        rel = saved.path if saved is not None else (
            f"outputs/{state.run}.out" if state.run else None)
        if not rel:
            return None
        path = incident_dir(self.session.state_dir, iid) / rel
        # masked again for the screen: an output saved before a secret was known, or by a
        # run that did not know it, never shows it
        data, _ = mask_bytes(tail_bytes(path, OUTPUT_TAIL), self.held_secrets())
        try:
            size = saved.bytes if saved is not None else path.stat().st_size
        except OSError:
            size = 0
        sha = saved.sha256 if saved is not None else ""
        return StepOutput(rel, size, sha, display_tail(data))

    def redact(self, text: str) -> str:
        return redact_text(text, self.held_secrets())

    def held_secrets(self) -> tuple[str, ...]:
        """Every secret of the configuration (probe passwords, tokens, keys): masked in
        every step's output, refused on a command line."""
        return held_secrets(self.session.config)

    def _common(self) -> dict[str, Any]:
        j = self._journal()
        return {"author": j.author, "mode": self.session.store.mode, "journal": j,
                "mask": self.held_secrets()}

    def _refuse_destructive_if_broken(self, token: str) -> None:
        j = self.session.store.opened_journal(self._incident())
        if token and j is not None and j.failed:
            raise StepError("The journal cannot be written: destructive steps are refused "
                            "until it can.")

    def execute(self, runbook: Runbook, step: Step, params: Mapping[str, Any],
                confirmation: str | None, state: StepState) -> StepResult:
        iid = self._incident()
        self._refuse_destructive_if_broken(confirmation_for(runbook, step, params))
        res = start(self.session.state_dir, iid, runbook, step, params,
                    attempt=state.attempt + 1, confirmation=confirmation, state=state,
                    **self._common())
        return _result(res, "execute")

    def dry_run(self, runbook: Runbook, step: Step, params: Mapping[str, Any]) -> StepResult:
        res = start(self.session.state_dir, self._incident(), runbook, step, params,
                    dry_run=True, **self._common())
        return _result(res, "dry run")

    def rollback(self, runbook: Runbook, step: Step, params: Mapping[str, Any],
                 confirmation: str | None) -> StepResult:
        iid = self._incident()
        if step.rollback is not None:
            self._refuse_destructive_if_broken(confirmation_for(runbook, step.rollback, params))
        res = start_rollback(self.session.state_dir, iid, runbook, step, params,
                             confirmation=confirmation, **self._common())
        return _result(res, "roll back")

    def verify(self, runbook: Runbook, step: Step, params: Mapping[str, Any],
               state: StepState) -> StepResult:
        v = step.verify
        if v is None:
            return StepResult("This step has no verify.", warning=True)
        if v.probe:
            h = {x.service: x for x in self.session.health()}.get(v.probe)
            passed = h is not None and h.status == Status.OK
            detail = (f"{v.probe} is {h.status.word}: {one_line(h.summary, 120)}"
                      if h is not None else f"no health for {v.probe}")
            S.record_verify(self._journal(), state, passed, detail)
            return StepResult(f"verify {'passed' if passed else 'failed'}: {detail}",
                              warning=not passed)
        r = run_verify(self.session.state_dir, self._incident(), runbook, step, params,
                       **self._common())
        return StepResult(f"verify {'passed' if r.passed else 'failed'}: {r.detail}",
                          warning=not r.passed)

    def confirm(self, runbook: Runbook, step: Step, state: StepState) -> StepResult:
        S.confirm(self._journal(), state, step)
        return StepResult("confirmed done")

