"""The journal's own TOML record serializer (cat-safe, byte-exact, hash-sealed).

Why our own: the records are hashed over their raw bytes, so the bytes must be
produced deterministically by us; and tomli-w writes C1 and bidi characters raw,
which would let ``cat`` or ``less`` on a journal drive the terminal.

Escaping rules for every string (values and keys):

* ``\\`` and ``"`` are escaped; so a raw ``"`` never appears inside a string,
  which is what makes the ``hash = "sha256:..."`` terminator line unambiguous;
* all C0 controls, DEL, C1 (U+0080..U+009F), format characters (category Cf:
  bidi controls, zero-width characters, BOM, soft hyphen ...), U+2028/U+2029
  are written as ``\\uXXXX`` / ``\\UXXXXXXXX`` (or ``\\t \\n \\r \\b \\f``);
* the one exception: a string value holding a newline is written as a TOML
  multi-line basic string with raw newlines (so notes stay readable);
* lone surrogates cannot be represented in TOML (or UTF-8): they are replaced by
  U+FFFD (the documented normalisation).

A record::

    [[entry]]
    size = 231
    seq = 2
    ts = 1764310442.001822
    kind = "note"
    author = "alice"
    data.text = "Primary DB unreachable"
    prev = "sha256:<64 hex>"
    hash = "sha256:<64 hex>"

``size`` is the byte length of the whole record (hash line included): it tells a
torn tail (shorter than ``size``) from a complete but damaged last record, so
recovery never truncates an acknowledged record whose hash line got damaged.
``hash`` is SHA-256 over every byte from ``[[entry]]`` up to and including the
``prev`` line; ``prev`` is the previous record's hash, or for the first record of
a file ``genesis(incident, file name)``.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

from ..text import DANGEROUS_RANGES, char_class

HEADER = (
    b"# cockpit journal v1 - append-only. Do not edit: edits are detected by `cockpit verify`.\n"
    b"# Add corrections as new entries.\n"
)
RECORD_START = b"[[entry]]\n"
MAX_RECORD = 1024 * 1024  # larger payloads belong in outputs/

# Terminator of every record (with the newline that ends the line before it). A raw '"'
# never occurs inside a string, so this line cannot be faked by data. Group 1: hex digest.
TERMINATOR_RE = re.compile(rb'\nhash = "sha256:([0-9a-f]{64})"\n')
SIZE_RE = re.compile(rb"\[\[entry\]\]\nsize = ([0-9]{1,8})\n")

_HASH_LINE_LEN = len('hash = "sha256:"\n') + 64
_MAX_INT = 2**63 - 1
_MIN_INT = -(2**63)

# Code points escaped in strings: ``cockpit.text.DANGEROUS_RANGES`` (categories Cc, Cf,
# Zl, Zp, Cs), the one table shared with the screen sanitizer and the runbook validator.
_BAD = re.compile("[\\\\\"" + char_class(DANGEROUS_RANGES) + "]")
_BAD_ML = re.compile("[\\\\\"" + char_class(DANGEROUS_RANGES, skip=(0x0A,)) + "]")
_SHORT = {"\\": "\\\\", '"': '\\"', "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+\Z")


def _esc_char(m: re.Match[str]) -> str:
    ch = m.group()
    short = _SHORT.get(ch)
    if short is not None:
        return short
    o = ord(ch)
    if 0xD800 <= o <= 0xDFFF:
        return "\\uFFFD"  # lone surrogate: not representable, normalised
    return f"\\u{o:04X}" if o <= 0xFFFF else f"\\U{o:08X}"


def quote(s: str) -> str:
    """A single-line TOML basic string."""
    if not _BAD.search(s):
        return '"' + s + '"'
    return '"' + _BAD.sub(_esc_char, s) + '"'


def quote_value(s: str) -> str:
    """A TOML string value: multi-line basic string when it holds a newline."""
    if "\n" not in s:
        return quote(s)
    # The newline right after the opening quotes is trimmed by TOML parsers.
    return '"""\n' + _BAD_ML.sub(_esc_char, s) + '"""'


def key(k: str) -> str:
    if not isinstance(k, str):
        raise TypeError(f"keys must be strings, not {type(k).__name__}")
    return k if _BARE_KEY.match(k) else quote(k)


def _scalar(v: Any, multiline: bool) -> str:
    if isinstance(v, str):
        return quote_value(v) if multiline else quote(v)
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        if not _MIN_INT <= v <= _MAX_INT:
            raise ValueError(f"integer {v} does not fit in 64 bits")
        return str(int(v))
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return repr(float(v))  # 'inf', '-inf', '1e-05', '0.1': all valid TOML floats
    raise TypeError(f"unsupported value type {type(v).__name__} (use str/int/float/bool/list/dict)")


def inline(v: Any, depth: int = 0) -> str:
    """A value on one line (inside arrays and inline tables)."""
    if depth > 32:
        raise ValueError("data nested too deeply")
    if isinstance(v, dict):
        if not v:
            return "{}"
        return "{ " + ", ".join(f"{key(k)} = {inline(x, depth + 1)}" for k, x in v.items()) + " }"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(inline(x, depth + 1) for x in v) + "]"
    return _scalar(v, False)


def dotted_lines(prefix: str, d: dict[str, Any], out: list[str], depth: int = 0) -> None:
    """``prefix.key = value`` lines for a (possibly nested) dict."""
    if depth > 32:
        raise ValueError("data nested too deeply")
    for k, v in d.items():
        name = f"{prefix}.{key(k)}" if prefix else key(k)
        if isinstance(v, dict) and v:
            dotted_lines(name, v, out, depth + 1)
        elif isinstance(v, dict | list | tuple):
            out.append(f"{name} = {inline(v, depth + 1)}\n")
        else:
            out.append(f"{name} = {_scalar(v, True)}\n")


def sha(b: bytes) -> str:
    return "sha256:" + hashlib.sha256(b).hexdigest()


def genesis(incident_id: str, file_name: str) -> str:
    """``prev`` of the first record of a file: binds the chain to incident and file name."""
    return sha(b"cockpit-v1\0" + incident_id.encode() + b"\0" + file_name.encode())


def encode_record(
    *,
    seq: int,
    ts: float,
    kind: str,
    author: str,
    data: dict[str, Any],
    prev: str,
    retry_of: str | None = None,
) -> tuple[bytes, str]:
    """Serialize one record. Returns (record bytes, its hash)."""
    if not isinstance(data, dict):
        raise TypeError("data must be a dict")
    ts = float(ts)
    if not math.isfinite(ts):
        raise ValueError("ts must be finite")
    lines = [f"seq = {int(seq)}\n", f"ts = {ts!r}\n", f"kind = {quote(kind)}\n",
             f"author = {quote(author)}\n"]
    if retry_of is not None:
        lines.append(f"retry_of = {quote(retry_of)}\n")
    if data:
        dotted_lines("data", data, lines)
    else:
        lines.append("data = {}\n")
    lines.append(f"prev = {quote(prev)}\n")
    body = "".join(lines).encode("utf-8")
    # size covers "[[entry]]\n" + size line + body + hash line.
    fixed = len(RECORD_START) + len(body) + _HASH_LINE_LEN
    size = fixed + len("size = \n") + 1
    while True:
        new = fixed + len(f"size = {size}\n")
        if new == size:
            break
        size = new
    if size > MAX_RECORD:
        raise ValueError(f"record of {size} bytes exceeds {MAX_RECORD}; store payloads in outputs/")
    head = RECORD_START + f"size = {size}\n".encode() + body
    digest = sha(head)
    rec = head + f'hash = "{digest}"\n'.encode()
    return rec, digest


def dumps_document(data: dict[str, Any]) -> str:
    """A whole TOML document (used for snapshot.toml), cat-safe like the records."""
    if not isinstance(data, dict):
        raise TypeError("data must be a dict")
    out: list[str] = []
    dotted_lines("", data, out)
    return "".join(out)
