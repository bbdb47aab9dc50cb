"""Verify commands: the one verdict of a verify's result, and running a verify in this
process (a probe verify is the health layer's: ``state.record_verify``)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..journal import Journal
from ..journal.perms import ensure_dir, file_mode
from . import state as _steps
from .claims import ensure_sub, output_rel, writer
from .launch import VERIFY_CAPTURE, _verify_prep
from .model import Runbook, Step, Verify
from .policy import RUN_ID_VAR
from .process import RunResult, run_command


@dataclass(frozen=True)
class VerifyResult:
    passed: bool
    detail: str
    result: RunResult
    output_path: Path
    entry: Any = None


def verify_detail(v: Verify, res: RunResult) -> tuple[bool, str]:
    """The verdict of a verify command and a one-line explanation (the one verdict: the
    in-process verify and the supervisor both use it)."""
    text = res.captured.decode("utf-8", errors="replace")
    if res.error:
        return False, res.error
    if res.timed_out:
        return False, "timed out"
    if res.exit_code != v.expect_exit:
        how = f"signal {res.signal}" if res.signal else f"exit code {res.exit_code}"
        return False, f"{how}, expected exit code {v.expect_exit}"
    if not v.output_ok(text):
        return False, f"output does not match {v.expect_output!r}"
    return True, f"exit code {res.exit_code}" + (
        f", output matches {v.expect_output!r}" if v.expect_output else "")


def run_verify(
    state_dir: Path,
    incident_id: str,
    runbook: Runbook,
    step: Step | str,
    params: Mapping[str, Any],
    *,
    author: str,
    mode: str = "personal",
    journal: Journal | None = None,
    extra_env: Mapping[str, str] | None = None,
    mask: Sequence[str] = (),
) -> VerifyResult:
    """Run a step's verify command in this process (blocking: call it off the UI thread),
    with its timeout, and journal ``step.verify_passed`` / ``step.verify_failed``.
    Probe verifies belong to the health layer: record them with ``state.record_verify``."""
    state_dir = Path(state_dir)
    prep, st = _verify_prep(state_dir, incident_id, runbook, step, params, extra_env, mask)
    assert isinstance(prep.target, Verify)
    out_dir = ensure_sub(state_dir, incident_id, "outputs", mode)
    if not prep.rendered.cwd:
        ensure_sub(state_dir, incident_id, "work", mode)
        ensure_dir(Path(prep.cwd), mode)
    path = out_dir / f"{prep.run}.out"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 file_mode(mode))
    try:
        res = run_command(prep.rendered.argv, env=prep.env, out_fd=fd,
                          timeout=prep.rendered.timeout, cwd=prep.cwd,
                          secrets=prep.secrets, capture=VERIFY_CAPTURE,
                          marker=prep.env[RUN_ID_VAR])
        os.fsync(fd)
    finally:
        os.close(fd)
    passed, detail = verify_detail(prep.target, res)
    base = {"runbook": runbook.id, "step": prep.step.id, "attempt": st.attempt, "run": prep.run}
    with writer(journal, state_dir, incident_id, mode, author) as j:
        j.append("step.output", {**base, "run_kind": "verify", "path": output_rel(prep.run),
                                 "bytes": res.bytes, "sha256": res.sha256,
                                 "redactions": res.redactions,
                                 "detail": f"verify output saved ({res.bytes} bytes)"})
        e = j.append(_steps.RESULT_KINDS[("verify", passed)], {
            **base, "passed": passed, "exit_code": res.exit_code, "signal": res.signal,
            "timed_out": res.timed_out, "duration": round(res.duration, 3),
            "detail": f"verify {'passed' if passed else 'failed'}: {detail}"})
    return VerifyResult(passed, detail, res, path, e)
