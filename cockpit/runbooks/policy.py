"""The one execution policy: what a runbook may ask the executor to do.

``cockpit runbooks validate`` (the loader) and the executor (``process.command_env``) both
ask this module, so a runbook that validates is never refused at execution for a rule the
validator did not know (``tests/runbooks/test_policy.py`` checks both against one table).
"""

from __future__ import annotations

import re

from ..text import DANGEROUS_IN_TEXT_RE

SECURE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SSH_OPTIONS = ("-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-T")
RUN_ID_VAR = "COCKPIT_RUN_ID"  # marks every process of a run (finds escapees)
SECRET_VAR = "COCKPIT_SECRET_"  # supervisor-only variables carrying secret values

ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
# Environment names a command may not be given: they change how programs or shells load
# code, or are the cockpit's own.
FORBIDDEN_ENV = frozenset({
    "BASH_ENV", "ENV", "IFS", "SHELLOPTS", "BASHOPTS", "PS4", "PROMPT_COMMAND", "GLOBIGNORE",
    "CDPATH", "PYTHONSTARTUP", "PYTHONPATH", "PYTHONHOME", "PERL5OPT", "NODE_OPTIONS",
    RUN_ID_VAR,
})
FORBIDDEN_ENV_PREFIXES = ("LD_", "BASH_FUNC_", "DYLD_", SECRET_VAR)

SHELL_OPERATORS = frozenset({"|", "||", "&&", ";", "&", ">", ">>", "<", "2>&1", "2>", "|&",
                             "$(", "`"})
SSH_DEST_RE = re.compile(r"^(?:[A-Za-z0-9_][A-Za-z0-9_.-]*@)?[A-Za-z0-9_\[][A-Za-z0-9_.:\]-]*\Z")


def env_problem(name: object) -> str | None:
    """Why a command may not be given the environment variable ``name`` (None: allowed)."""
    if not isinstance(name, str) or not ENV_NAME_RE.match(name):
        return "not a valid environment variable name"
    if name in FORBIDDEN_ENV or name.startswith(FORBIDDEN_ENV_PREFIXES):
        return ("this variable changes how programs load code, or is the cockpit's own; "
                "not allowed")
    return None


def text_problem(value: str, *, multiline: bool) -> str | None:
    """Runbook text may hold no control or invisible character (Trojan Source): the same
    code points the journal escapes and the screen makes visible."""
    m = DANGEROUS_IN_TEXT_RE.search(value)
    if m:
        return f"contains the control or invisible character U+{ord(m.group(0)):04X}"
    if not multiline and ("\n" in value or "\t" in value):
        return "must be a single line"
    return None


# Commands that delete, overwrite, promote, stop or block: such a step must say
# ``destructive = true`` (or ``false``) explicitly, so nobody forgets the flag.
DESTRUCTIVE_HINTS = re.compile(
    r"(?ix)(?:^|[\s/;|&(\"'])(?:"
    r"rm|rmdir|dd|mkfs(?:\.\w+)?|wipefs|shred|truncate|mv|dropdb|pg_resetwal|pg_rewind|"
    r"kill|pkill|killall|reboot|shutdown|poweroff|halt"
    r")(?=\s|$|[\"'])"
    r"|\bip6?tables\s+(?:\S+\s+)*-(?:[AIDRFXNP]|-append|-insert|-delete|-flush|-policy)\b"
    r"|\bnft\s+(?:\S+\s+)*(?:add|insert|delete|flush|replace|create|destroy)\b"
    r"|\bufw\s+(?:\S+\s+)*(?:deny|reject|enable|disable|delete|reset|limit)\b"
    r"|\bpromote\b|\bpg_promote\b|\bbackup-fetch\b|\bwal-g\s+(?:\S+\s+)*delete\b"
    r"|\bsystemctl\s+(?:\S+\s+)*(?:stop|restart|kill|disable|mask|isolate|reload)\b"
    r"|\b(?:drop|truncate)\s+(?:table|database|schema|index)\b|\bdelete\s+from\b"
    r"|\bflushall\b|\bflushdb\b|\bredis-cli\b.*\bshutdown\b|\bs3\s+(?:rm|mv|sync\b.*--delete)"
    r"|\bgit\s+(?:reset|checkout|clean|revert)\b|\bln\s+-\w*f"
    r"|\bpg_terminate_backend\b|\bpg_wal_replay_resume\b|\bsed\s+-i"
)



def destructive_hint(command_text: str) -> str | None:
    """The part of a command that makes it look destructive, or None."""
    m = DESTRUCTIVE_HINTS.search(command_text or "")
    return m.group(0).strip() if m else None


def command_text(argv: tuple[str, ...] | None, shell: str | None) -> str:
    """The text the destructive hints are matched against: the command as written in the
    runbook (placeholders unrendered), so a parameter value never changes the verdict."""
    return " ".join(argv) if argv else (shell or "")


def unstated_destructive(text: str, stated: bool) -> str | None:
    """A step whose command looks destructive must state ``destructive = true`` (or false):
    the problem in one line, or None."""
    hint = destructive_hint(text)
    if hint and not stated:
        return (f"the command looks destructive ({hint!r}): state destructive = true (or "
                "false if it is not)")
    return None


VERIFY_MUST_OBSERVE = "a verify command must only observe; this one looks destructive"
