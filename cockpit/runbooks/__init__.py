"""Runbooks: the plan's procedures as data, and running their steps safely.

Modules, one job each:

- ``model``      a runbook, its params, steps, verifies, rollbacks; a rendered command
- ``template``   ``{param}`` placeholders and the quoting rules that keep values out of shells
- ``params``     parameter coercion and values drawn from ``cockpit.toml``
- ``policy``     the one execution policy (forbidden environment, destructive commands, text)
- ``loader``     reading and validating runbook files (every error: ``file:line: key``)
- ``library``    a set of runbooks ranked by what is failing; the built-in library
- ``state``      the step state machine, a pure fold of the journal, and operator transitions
- ``claims``     exactly one runner per run, and in-doubt detection
- ``process``    running one command: environment, output capture, process-tree kill
- ``launch``     starting steps, rollbacks, verifies and dry runs under the supervisor
- ``supervisor`` the detached process that runs a step and journals its result

The built-in runbooks (the top-level ``runbooks/`` folder of the checkout) are package data:
``cockpit.runbooks.builtin``. The core never imports Textual.
"""

from .errors import ParamError, RunbookError, StepError
from .library import Library, builtin_dir
from .loader import collect_library, load_library, load_runbook, runbook_files
from .model import (
    CommandSpec,
    Param,
    RenderedCommand,
    Rollback,
    Runbook,
    Scenario,
    Step,
    Verify,
)
from .params import PARAM_TYPES, config_value, dsn_part
from .schema import SCHEMA_REFERENCE
from .template import placeholders, shell_placeholder_problems, substitute

__all__ = [
    "PARAM_TYPES", "SCHEMA_REFERENCE", "CommandSpec", "Library", "Param", "ParamError",
    "RenderedCommand", "Rollback", "Runbook", "RunbookError", "Scenario", "Step", "StepError",
    "Verify", "builtin_dir", "collect_library", "config_value", "dsn_part", "load_library",
    "load_runbook", "placeholders", "runbook_files", "shell_placeholder_problems", "substitute",
]
