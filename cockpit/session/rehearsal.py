"""The runbook side of an exercise and of the demo: every step is rehearsed, nothing is ever
executed.

The navigator works as in a real incident (parameters asked for, the destructive step's
typed confirmation, verify, confirm, skip, roll back...), and every transition is a journal
entry of the exercise, so the expected outcomes can be decided from it ("the promote step
confirmed by T+25m"). Executing a step journals ``step.started`` and ``step.succeeded``
marked ``rehearsal = true`` with the exact command that a real incident would have run, and
shows it; no process is started (``launch.start`` and the supervisor are never called). A
verify of a service asks the scenario's health; a verify command is not run either.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any, Protocol

from ..health import Status
from ..journal import Journal
from ..runbooks import Runbook, Step
from ..runbooks import state as S
from ..runbooks.errors import StepError
from ..runbooks.launch import DryRun, confirmation_for
from ..runbooks.model import Rollback, Verify
from ..runbooks.state import StepState, can_rollback, can_start
from ..text import one_line, shorten
from .protocol import StepOutput, StepResult, View
from .steps import LibrarySteps, StepMarks

NOTHING_RUNS = "Rehearsal: nothing was run (an exercise or the demo never executes a command)."


class RehearsalHost(Protocol):
    """The session a rehearsal journals in (an exercise: its journal; the demo: memory)."""

    def journal(self) -> Any: ...  # .append(kind, data)

    def journal_entries(self) -> list[Any]: ...

    def view(self) -> View: ...


def _dry(rb: Runbook, step: Step, kind: str, attempt: int, target: Step | Rollback | Verify,
         params: Mapping[str, Any]) -> DryRun:
    r = rb.render(target, params)
    return DryRun(rb.id, step.id, kind, attempt, tuple(r.argv), r.cwd or "", r.env_names,
                  float(r.timeout), r.remote, r.script)


class RehearsalSteps(StepMarks, LibrarySteps):
    """Steps of an exercise: journaled as rehearsals, never run."""

    session: RehearsalHost

    def _journal(self) -> Journal:  # or the demo's in-memory journal (same ``append``)
        return self.session.journal()

    def states(self, runbook_id: str) -> dict[tuple[str, str], StepState]:
        steps = [e for e in self.session.journal_entries() if e.kind.startswith("step.")]
        return S.step_states(steps, runbook_id)

    def redact(self, text: str) -> str:
        return text  # an exercise holds no secret: nothing of the configuration is read

    def output(self, state: StepState) -> StepOutput | None:
        return None  # nothing ran, nothing was printed

    def _data(self, rb: Runbook, step: Step, attempt: int, run: str, dry: DryRun,
              detail: str) -> dict[str, Any]:
        return {"runbook": rb.id, "step": step.id, "attempt": attempt, "run": run,
                "argv": list(dry.argv), "cwd": dry.cwd, "env": list(dry.env_names),
                "timeout": dry.timeout, "dry_run": True, "rehearsal": True, "detail": detail}

    @staticmethod
    def _token(rb: Runbook, target: Step | Rollback, params: Mapping[str, Any],
               given: str | None, what: str) -> None:
        token = confirmation_for(rb, target, params)
        if token and (given is None or given.strip() != token):
            raise StepError(f"{what} is destructive: type {token!r} to confirm")

    def execute(self, runbook: Runbook, step: Step, params: Mapping[str, Any],
                confirmation: str | None, state: StepState) -> StepResult:
        if step.command is None:
            raise StepError(f"step {step.id} is a manual step: it has no command to run")
        ok, why = can_start(state, step)
        if not ok:
            raise StepError(f"{runbook.id}/{step.id}: not started: {why}")
        self._token(runbook, step, params, confirmation, f"step {step.id}")
        attempt = state.attempt + 1
        dry = _dry(runbook, step, "step", attempt, step, params)
        run = f"rehearsal-{secrets.token_hex(4)}"
        j = self._journal()
        j.append("step.started", self._data(
            runbook, step, attempt, run, dry, f"rehearsal, nothing run: {shorten(dry.display())}"))
        j.append("step.succeeded", {"runbook": runbook.id, "step": step.id, "attempt": attempt,
                                    "run": run, "rehearsal": True,
                                    "detail": "rehearsed (exercise): nothing was run"})
        return StepResult(NOTHING_RUNS, dry_run=dry)

    def dry_run(self, runbook: Runbook, step: Step, params: Mapping[str, Any]) -> StepResult:
        dry = _dry(runbook, step, "step", 0, step, params)
        self._journal().append("step.dry_run", {
            "runbook": runbook.id, "step": step.id, "attempt": 0, "argv": list(dry.argv),
            "cwd": dry.cwd, "env": list(dry.env_names), "timeout": dry.timeout,
            "rehearsal": True, "detail": f"dry run: {shorten(dry.display())}"})
        return StepResult("Dry run: nothing was run", dry_run=dry)

    def rollback(self, runbook: Runbook, step: Step, params: Mapping[str, Any],
                 confirmation: str | None) -> StepResult:
        state = S.state_of(self.states(runbook.id), runbook.id, step.id)
        ok, why = can_rollback(state, step)
        if not ok or step.rollback is None:
            raise StepError(f"{runbook.id}/{step.id}: cannot roll back: {why}")
        if step.rollback.command is None:
            raise StepError(f"step {step.id} has no rollback command")
        self._token(runbook, step.rollback, params, confirmation, f"the rollback of {step.id}")
        dry = _dry(runbook, step, "rollback", state.attempt, step.rollback, params)
        run = f"rehearsal-{secrets.token_hex(4)}"
        j = self._journal()
        j.append("step.rollback_started", self._data(
            runbook, step, state.attempt, run, dry,
            f"rollback rehearsal, nothing run: {shorten(dry.display())}"))
        j.append("step.rolled_back", {"runbook": runbook.id, "step": step.id,
                                      "attempt": state.attempt, "run": run, "rehearsal": True,
                                      "detail": "rollback rehearsed (exercise): nothing was run"})
        return StepResult(NOTHING_RUNS, dry_run=dry)

    def verify(self, runbook: Runbook, step: Step, params: Mapping[str, Any],
               state: StepState) -> StepResult:
        v = step.verify
        if v is None:
            return StepResult("This step has no verify.", warning=True)
        if v.probe:
            h = {x.service: x for x in self.session.view().health}.get(v.probe)
            passed = h is not None and h.status == Status.OK
            detail = (f"{v.probe} is {h.status.word} in the scenario: {one_line(h.summary, 100)}"
                      if h is not None else f"no service {v.probe} in the scenario")
        else:
            dry = _dry(runbook, step, "verify", state.attempt, v, params)
            passed = True
            detail = f"rehearsal: the verify command was not run ({shorten(dry.display(), 80)})"
        S.record_verify(self._journal(), state, passed, detail)
        return StepResult(f"verify {'passed' if passed else 'failed'}: {detail}",
                          warning=not passed)

    def confirm(self, runbook: Runbook, step: Step, state: StepState) -> StepResult:
        S.confirm(self._journal(), state, step)
        return StepResult("confirmed done (rehearsal)")
