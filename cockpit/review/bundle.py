"""One verifiable file holding an incident: capture, verify, open (offline, no config).

A bundle is a plain (uncompressed) tar archive of regular files only::

    MANIFEST.toml                         format, cockpit version, incident, open flag,
                                          captured at/by, and each member's size + sha256
    MANIFEST.toml.sig                     optional: ``ssh-keygen -Y sign -n dr-cockpit``
    state/incidents/<id>/journal/*.toml   the journals, exact bytes
    state/incidents/<id>/outputs/...      step outputs (already masked when saved), exact
    state/incidents/<id>/quarantine/...   torn tails cut off by recovery, exact
    runbooks/<runbook-id>.toml            the runbooks the incident used, exact bytes
    config/cockpit.toml                   the effective configuration, every secret masked
    health/probes.toml                    the last-known health, every secret masked
    heads.toml                            each writer's chain head when captured

Verification (``verify_bundle``) is offline and names the first problem in one line: the
archive is complete (a truncated tar is refused), every member is a safe relative path to a
regular file, listed once in the manifest with its size and sha256 (a member changed,
removed or added is named), every journal chain is intact and ends at least where
``heads.toml`` says, and the signature (when present) is valid for the manifest; with
``allowed_signers`` it must be by a listed principal. An unsigned bundle proves integrity
against accidents, not against a forger who rewrites the manifest: sign it for that.

Exact members (journals, outputs, quarantine, runbooks) cannot be masked without breaking
their hashes: capture refuses when one holds a configured secret value, naming the member.

Size: over the ~500 lines a module aims at: writing a bundle and checking one share the
format (members, manifest, signature) and are kept side by side so they cannot drift.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..journal.model import check_incident_id, incident_dir
from ..text import one_line

FORMAT = "dr-cockpit-bundle/1"
MANIFEST = "MANIFEST.toml"
SIGNATURE = "MANIFEST.toml.sig"
NAMESPACE = "dr-cockpit"
CONFIG_MEMBER = "config/cockpit.toml"
HEALTH_MEMBER = "health/probes.toml"
HEADS_MEMBER = "heads.toml"
MAX_MEMBER = 1 << 32  # 4 GiB: a member larger than this is refused on read
_SAFE = re.compile(r"^[A-Za-z0-9_@+=,.-]+(?:/[A-Za-z0-9_@+=,.-]+)*\Z")


class BundleError(Exception):
    """A bundle that cannot be captured, read or trusted: ``str(e)`` is one line."""


# ------------------------------------------------------------------ small helpers

def _q(s: str) -> str:
    """A TOML basic string in ASCII: every non-ASCII or control character is a \\u or
    \\U escape (TOML has no surrogate pairs: JSON's escaping would not do)."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= o < 0x7F:
            out.append(ch)
        elif 0xD800 <= o <= 0xDFFF:
            out.append("\\uFFFD")  # a lone surrogate is no Unicode scalar value
        elif o <= 0xFFFF:
            out.append(f"\\u{o:04X}")
        else:
            out.append(f"\\U{o:08X}")
    out.append('"')
    return "".join(out)


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def safe_member(name: str) -> bool:
    return bool(_SAFE.match(name)) and not any(p in (".", "..") for p in name.split("/"))


def _walk(base: Path) -> list[Path]:
    """Regular files under ``base`` (symlinks never followed), sorted."""
    out: list[Path] = []
    if not base.is_dir() or base.is_symlink():
        return out
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        dirnames.sort()
        for f in sorted(filenames):
            p = Path(dirpath) / f
            if p.is_file() and not p.is_symlink():
                out.append(p)
    return out


def _read(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as f:
        return f.read()


# ------------------------------------------------------------------ capture

@dataclass
class CaptureResult:
    path: Path
    members: int
    size: int
    open_incident: bool
    signed: bool
    notes: list[str] = field(default_factory=list)  # journal notes, missing runbooks


def _runbook_ids(entries: Iterable[Any]) -> list[str]:
    ids = set()
    for e in entries:
        if str(getattr(e, "kind", "")).startswith("step."):
            rb = (e.data or {}).get("runbook")
            if isinstance(rb, str) and rb:
                ids.add(rb)
    return sorted(ids)


def _runbook_files(config: Any) -> dict[str, Path]:
    """Runbook id -> file, searched like the cockpit does (configured dirs, then built-in)."""
    from ..runbooks.library import builtin_dir
    from ..runbooks.loader import collect_library

    dirs = [*(getattr(config, "runbook_dirs", ()) or ()), builtin_dir()]
    found: dict[str, Path] = {}
    for d in dirs:
        lib, _errors = collect_library([d])
        for rb in lib:
            if rb.id not in found and rb.path is not None:
                found[rb.id] = Path(rb.path)
    return found


def redact_for_bundle(text: str, secrets: tuple[str, ...]) -> str:
    from ..redact import redact_text

    return redact_text(text, secrets)


def _contains_secret(data: bytes, secrets: tuple[str, ...]) -> str | None:
    for s in secrets:
        if s.encode() in data:
            return s
    return None


def manifest_text(meta: Mapping[str, Any], members: list[tuple[str, int, str]]) -> str:
    lines = [f"format = {_q(FORMAT)}"]
    for k, v in meta.items():
        if isinstance(v, bool):
            lines.append(f"{k} = {'true' if v else 'false'}")
        elif isinstance(v, int | float):
            lines.append(f"{k} = {v!r}")
        elif isinstance(v, list | tuple):
            lines.append(f"{k} = [{', '.join(_q(str(x)) for x in v)}]")
        else:
            lines.append(f"{k} = {_q(str(v))}")
    for path, size, digest in members:
        lines += ["", "[[member]]", f"path = {_q(path)}", f"size = {size}",
                  f"sha256 = {_q(digest)}"]
    return "\n".join(lines) + "\n"


def sign_manifest(manifest: bytes, key: Path) -> bytes:
    """``ssh-keygen -Y sign -n dr-cockpit`` of the manifest bytes with ``key``."""
    if shutil.which("ssh-keygen") is None:
        raise BundleError("cannot sign: ssh-keygen is not installed")
    with tempfile.TemporaryDirectory(prefix="cockpit-sign-") as tmp:
        m = Path(tmp) / MANIFEST
        m.write_bytes(manifest)
        r = subprocess.run(["ssh-keygen", "-q", "-Y", "sign", "-n", NAMESPACE, "-f", str(key),
                            str(m)], capture_output=True, text=True, check=False)
        sig = Path(str(m) + ".sig")
        if r.returncode != 0 or not sig.is_file():
            why = one_line((r.stderr or r.stdout or "failed").strip(), 300)
            raise BundleError(f"{key}: cannot sign the manifest: {why}")
        return sig.read_bytes()


def capture(state_dir: Path, incident_id: str, out: Path, *, config: Any = None,
            sign_key: Path | None = None, now: float | None = None,
            secrets: tuple[str, ...] | None = None) -> CaptureResult:
    """Write the incident's bundle to ``out`` (atomically: a temp file renamed)."""
    from ..incident.fold import fold
    from ..journal.writer import default_author
    from ..secrets import held_secrets

    check_incident_id(incident_id)
    idir = incident_dir(Path(state_dir), incident_id)
    if not idir.is_dir():
        raise BundleError(f"no such incident: {incident_id} (in {state_dir})")
    held = held_secrets(config) if secrets is None else secrets
    notes: list[str] = []
    payload: list[tuple[str, bytes]] = []
    base = f"state/incidents/{incident_id}"
    for sub in ("journal", "outputs", "quarantine"):
        for p in _walk(idir / sub):
            rel = p.relative_to(idir).as_posix()
            name = f"{base}/{rel}"
            if not safe_member(name):
                raise BundleError(f"{p}: a file name a bundle cannot carry")
            payload.append((name, _read(p)))
    # the heads, the state and the notes come from the very bytes put in the bundle (a live
    # writer may append meanwhile): each journal scanned once, hashes, chains and schemas
    from ..journal.model import is_journal_file
    from ..journal.reader import merge, scan

    scanned = []
    last: dict[str, tuple[int, str]] = {}
    for name, data in payload:
        if f"{base}/journal/" not in name or not is_journal_file(name.rsplit("/", 1)[1]):
            continue
        fs = scan(data, idir / "journal" / name.rsplit("/", 1)[1], incident_id)
        scanned.extend(fs.entries)
        if fs.damage is not None and not any(n.startswith("the journals are damaged")
                                             for n in notes):
            notes.append(f"the journals are damaged: {fs.problem()}")
        if fs.tail:
            notes.append(f"{name}: ends in an unfinished record (a live writer, or a torn "
                         "tail); it is in the bundle as it was")
        good = [e for e in fs.entries if e.verified]
        if good:
            x = max(good, key=lambda e: e.seq)
            last[x.writer] = (x.seq, x.hash)
    entries = merge(scanned)
    state = fold(entries)
    heads = ["# each writer's last chain head when captured"]
    for writer, (seq, digest) in sorted(last.items()):
        heads += ["", "[[head]]", f"writer = {_q(writer)}", f"seq = {seq}",
                  f"hash = {_q(digest)}"]
    payload.append((HEADS_MEMBER, ("\n".join(heads) + "\n").encode()))
    used = _runbook_ids(entries)
    files = _runbook_files(config) if used else {}
    missing = []
    for rid in used:
        path = files.get(rid)
        name = f"runbooks/{rid}.toml"
        if path is None or not safe_member(name):
            missing.append(rid)
            continue
        payload.append((name, _read(path)))
    if missing:
        notes.append("runbook(s) not found, not in the bundle: " + ", ".join(missing))
    for name, data in payload:
        hit = _contains_secret(data, held)
        if hit is not None:
            raise BundleError(f"{name} holds a configured secret value; refusing to put it in "
                              "a bundle (mask it at the source first)")
    cfg_path = getattr(config, "path", None)
    if cfg_path is not None and Path(cfg_path).is_file():
        text = Path(cfg_path).read_text(encoding="utf-8", errors="replace")
        payload.append((CONFIG_MEMBER, redact_for_bundle(text, held).encode()))
    probes = Path(state_dir) / "probes.toml"
    if probes.is_file():
        text = probes.read_text(encoding="utf-8", errors="replace")
        payload.append((HEALTH_MEMBER, redact_for_bundle(text, held).encode()))
    members = [(n, len(d), hashlib.sha256(d).hexdigest()) for n, d in payload]
    t = time.time() if now is None else now
    is_open = state is None or state.status != "closed"
    meta: dict[str, Any] = {
        "cockpit_version": __version__, "incident": incident_id,
        "title": one_line(state.title if state else "", 200),
        "status": state.status if state else "unknown", "open_incident": is_open,
        "captured_at": _iso(t), "captured_ts": float(t),
        "captured_by": one_line(default_author(), 200),
        "config": CONFIG_MEMBER if any(n == CONFIG_MEMBER for n, _ in payload) else "",
        "missing_runbooks": missing,
    }
    manifest = manifest_text(meta, members).encode()
    sig = sign_manifest(manifest, Path(sign_key)) if sign_key is not None else None
    out = Path(out)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as raw, tarfile.open(fileobj=raw, mode="w",
                                                  format=tarfile.PAX_FORMAT) as tar:
            for name, data in [(MANIFEST, manifest), *([(SIGNATURE, sig)] if sig else []),
                               *payload]:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mtime = int(t)
                info.mode = 0o600
                tar.addfile(info, io.BytesIO(data))
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return CaptureResult(out, len(payload), out.stat().st_size, is_open, sig is not None, notes)


# ------------------------------------------------------------------ verify

@dataclass
class BundleCheck:
    ok: bool
    problem: str = ""  # the first problem, one line
    signature: str = "unsigned"  # "signed by X, verified" / "unsigned" / "signature NOT ..."
    manifest: dict[str, Any] = field(default_factory=dict)
    records: int = 0
    members: int = 0
    notes: list[str] = field(default_factory=list)
    entries: list[Any] = field(default_factory=list)  # the journals' entries, as read


def _fail(check: BundleCheck, problem: str) -> BundleCheck:
    check.ok = False
    check.problem = one_line(problem, 1000)
    return check


def _complete(path: Path) -> str | None:
    """Why the archive is not a complete tar (None: it is)."""
    size = path.stat().st_size
    if size < tarfile.RECORDSIZE or size % tarfile.RECORDSIZE:
        # capture writes whole tar records (10240 bytes, what tar and tarfile write): a
        # file cut anywhere, even in the end padding, is not one
        return f"truncated archive ({size} bytes is not a whole number of tar records)"
    with open(path, "rb") as f:
        f.seek(-1024, os.SEEK_END)
        if f.read(1024) != bytes(1024):
            return "truncated archive (no end-of-archive marker)"
    return None


def _ssh_keygen(args: list[str], stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}
    return subprocess.run(["ssh-keygen", *args], input=stdin, capture_output=True,
                          check=False, env=env, timeout=60)


def check_signature(manifest: bytes, sig: bytes, allowed_signers: Path | None
                    ) -> tuple[bool, str]:
    """(ok, word): the signature is valid for the manifest (and by an allowed signer when
    ``allowed_signers`` is given)."""
    if shutil.which("ssh-keygen") is None:
        return (allowed_signers is None,
                "signature NOT verified: ssh-keygen is not installed")
    with tempfile.TemporaryDirectory(prefix="cockpit-verify-") as tmp:
        sp = Path(tmp) / SIGNATURE
        sp.write_bytes(sig)
        r = _ssh_keygen(["-Y", "check-novalidate", "-n", NAMESPACE, "-s", str(sp)], manifest)
        if r.returncode != 0:
            why = one_line(r.stderr.decode(errors="replace").strip() or "invalid", 200)
            return False, f"signature does not match the manifest ({why})"
        if allowed_signers is None:
            return True, "signature NOT verified: valid, but no --allowed-signers to check the signer"
        f = _ssh_keygen(["-Y", "find-principals", "-s", str(sp), "-f", str(allowed_signers)],
                        b"")
        principals = [p for p in f.stdout.decode(errors="replace").splitlines() if p.strip()]
        if f.returncode != 0 or not principals:
            return False, "signature by a key that is not in the allowed signers"
        for who in principals:
            v = _ssh_keygen(["-Y", "verify", "-f", str(allowed_signers), "-I", who, "-n",
                             NAMESPACE, "-s", str(sp)], manifest)
            if v.returncode == 0:
                return True, f"signed by {one_line(who, 80)}, verified"
        return False, "signature by a key that is not in the allowed signers"


def _parse_manifest(data: bytes) -> tuple[dict[str, Any], dict[str, tuple[int, str]]]:
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise BundleError(f"{MANIFEST}: not valid TOML ({e})") from None
    if doc.get("format") != FORMAT:
        raise BundleError(f"{MANIFEST}: not a {FORMAT} manifest")
    listed: dict[str, tuple[int, str]] = {}
    for i, m in enumerate(doc.get("member") or []):
        if not isinstance(m, dict):
            raise BundleError(f"{MANIFEST}: member {i + 1} is not a table")
        p, size, digest = m.get("path"), m.get("size"), m.get("sha256")
        if (not isinstance(p, str) or type(size) is not int or not isinstance(digest, str)
                or not safe_member(p) or p in (MANIFEST, SIGNATURE)):
            raise BundleError(f"{MANIFEST}: member {i + 1} is not a valid entry")
        if p in listed:
            raise BundleError(f"{MANIFEST}: member {one_line(p, 200)} listed twice")
        listed[p] = (size, digest)
    try:
        check_incident_id(doc.get("incident"))
    except ValueError:
        raise BundleError(f"{MANIFEST}: no valid incident id") from None
    return doc, listed


def _read_members(path: Path, check: BundleCheck, sink: Path | None
                  ) -> tuple[dict[str, tuple[int, str]], bytes | None, bytes | None] | None:
    """Every member's (size, sha256), the manifest and the signature bytes; writes each
    member under ``sink`` when given. None (and ``check`` failed) on the first problem."""
    seen: dict[str, tuple[int, str]] = {}
    manifest = sig = None
    try:
        with tarfile.open(path, mode="r:") as tar:
            for info in tar:
                name = info.name
                if not info.isreg():
                    _fail(check, f"member {one_line(name, 200)}: not a regular file")
                    return None
                if not safe_member(name):
                    _fail(check, f"member {one_line(name, 200)}: not a safe relative path")
                    return None
                if name in seen or (name == MANIFEST and manifest is not None):
                    _fail(check, f"member {one_line(name, 200)}: present twice")
                    return None
                if info.size > MAX_MEMBER:
                    _fail(check, f"member {one_line(name, 200)}: too large")
                    return None
                f = tar.extractfile(info)
                assert f is not None
                h = hashlib.sha256()
                out = None
                if sink is not None and name not in (MANIFEST, SIGNATURE):
                    dest = sink / name
                    dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                    out = open(dest, "xb")  # noqa: SIM115 - closed below
                keep = name in (MANIFEST, SIGNATURE)
                buf = bytearray()
                n = 0
                try:
                    while chunk := f.read(1 << 20):
                        n += len(chunk)
                        h.update(chunk)
                        if out is not None:
                            out.write(chunk)
                        if keep:
                            buf += chunk
                finally:
                    if out is not None:
                        out.close()
                if n != info.size:
                    _fail(check, "truncated archive (a member ends early)")
                    return None
                if name == MANIFEST:
                    manifest = bytes(buf)
                elif name == SIGNATURE:
                    sig = bytes(buf)
                else:
                    seen[name] = (n, h.hexdigest())
    except (tarfile.TarError, EOFError) as e:
        _fail(check, f"not a readable bundle (truncated or damaged archive: {e})")
        return None
    return seen, manifest, sig


def verify_bundle(path: Path, allowed_signers: Path | None = None, *,
                  extract_to: Path | None = None) -> BundleCheck:
    """Check ``path`` (see the module docstring). ``extract_to``: an empty directory the
    members are written to (``open_bundle``); else a private temp dir, removed after."""
    from ..journal.reader import read_incident
    from ..journal.validate import is_unreadable, unreadable_line

    path = Path(path)
    check = BundleCheck(ok=True)
    try:
        why = _complete(path)
    except OSError as e:
        return _fail(check, f"{path}: {e.strerror or e}")
    if why:
        return _fail(check, why)
    tmp = None
    if extract_to is None:
        tmp = tempfile.mkdtemp(prefix="cockpit-bundle-")
        sink = Path(tmp)
    else:
        sink = Path(extract_to)
    try:
        got = _read_members(path, check, sink)
        if got is None:
            return check
        seen, manifest, sig = got
        if manifest is None:
            return _fail(check, f"no {MANIFEST} in the bundle")
        try:
            doc, listed = _parse_manifest(manifest)
        except BundleError as e:
            return _fail(check, str(e))
        check.manifest = doc
        check.members = len(listed)
        for name, (size, digest) in listed.items():
            if name not in seen:
                return _fail(check, f"member {one_line(name, 200)}: removed (listed in the "
                                    "manifest, not in the archive)")
            if seen[name] != (size, digest):
                return _fail(check, f"member {one_line(name, 200)}: changed (size or sha256 "
                                    "differs from the manifest)")
        for name in seen:
            if name not in listed:
                return _fail(check, f"member {one_line(name, 200)}: added (not in the "
                                    "manifest)")
        iid = doc["incident"]
        for name in seen:
            if name.startswith("state/") and not name.startswith(f"state/incidents/{iid}/"):
                return _fail(check, f"member {one_line(name, 200)}: not of incident {iid}")
        if sig is not None:
            good, word = check_signature(manifest, sig, allowed_signers)
            check.signature = word
            if not good:
                return _fail(check, word)
        elif allowed_signers is not None:
            check.signature = "unsigned"
            return _fail(check, "the bundle is not signed (--allowed-signers was given)")
        # one read of the journals (hashes, chains, schemas): its entries are kept for the
        # caller (a review of 100,000 entries must not read them twice)
        if not (sink / "state" / "incidents" / iid / "journal").is_dir():
            return _fail(check, f"no journal of incident {iid} in the bundle")
        res = read_incident(sink / "state", iid, recover=False)
        check.notes += res.pending
        if res.problems:
            return _fail(check, "journal " + res.problems[0].replace(f"{sink}/", ""))
        check.records = sum(1 for e in res.entries if e.verified)
        check.entries = res.entries
        last: dict[str, tuple[int, str]] = {}
        for x in res.entries:
            if x.seq > last.get(x.writer, (-1, ""))[0]:
                last[x.writer] = (x.seq, x.hash)
        if HEADS_MEMBER in seen:
            try:
                heads = tomllib.loads((sink / HEADS_MEMBER).read_text(encoding="utf-8"))
            except (UnicodeDecodeError, tomllib.TOMLDecodeError) as why:
                return _fail(check, f"{HEADS_MEMBER}: not valid TOML ({why})")
            for h in heads.get("head") or []:
                w, seq, digest = h.get("writer"), h.get("seq"), h.get("hash")
                have = last.get(w) if isinstance(w, str) else None
                if have is None or not isinstance(seq, int) or have[0] < seq:
                    return _fail(check, f"journal of writer {one_line(w, 80)} ends before "
                                        f"its captured head (seq {one_line(seq, 20)})")
                if have[0] == seq and have[1] != digest:
                    return _fail(check, f"journal of writer {one_line(w, 80)}: its head "
                                        f"differs from the captured one (seq {seq})")
        unreadable = [unreadable_line(e) for e in res.entries if is_unreadable(e)]
        check.notes += [f"unreadable record: {u}" for u in unreadable]
        return check
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------ open

@dataclass
class OpenedBundle:
    """A verified bundle extracted into a private temp dir (remove it with ``close``)."""

    path: Path
    root: Path  # a state dir: <root>/incidents/<incident_id>/journal/...
    incident_id: str
    name: str
    signature: str
    config_text: str
    manifest: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    # every entry of the incident as verified (session-start included): read once
    entries: list[Any] = field(default_factory=list)
    _tmp: Path | None = None

    def close(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> OpenedBundle:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def open_bundle(path: Path | str, allowed_signers: Path | None = None) -> OpenedBundle:
    """Verify and extract ``path``; raises ``BundleError`` (one line) naming the first
    problem."""
    path = Path(path)
    tmp = Path(tempfile.mkdtemp(prefix="cockpit-review-"))
    try:
        check = verify_bundle(path, allowed_signers, extract_to=tmp)
        if not check.ok:
            raise BundleError(f"{path.name}: {check.problem}")
        cfg = tmp / CONFIG_MEMBER
        text = cfg.read_text(encoding="utf-8", errors="replace") if cfg.is_file() else ""
        return OpenedBundle(path=path, root=tmp / "state", incident_id=check.manifest["incident"],
                            name=path.name, signature=check.signature, config_text=text,
                            manifest=check.manifest, notes=check.notes,
                            entries=check.entries, _tmp=tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
