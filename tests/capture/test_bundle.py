"""Capture bundles: what goes in, the tamper matrix (a member changed, removed or added, the
manifest edited, a journal record edited, a signature by another key, a truncated archive:
each detected and named in one line), no false alarm on 100 clean bundles, ``open_bundle``
(the API of the review UI)."""

from __future__ import annotations

import hashlib
import io
import random
import re
import subprocess
import tarfile
import tomllib
from pathlib import Path

import pytest

from cockpit.cli.main import main
from cockpit.journal.model import incident_dir
from cockpit.review.bundle import (
    MANIFEST,
    SIGNATURE,
    BundleError,
    capture,
    manifest_text,
    open_bundle,
    sign_manifest,
    verify_bundle,
)

from .helpers import IID, T0, write_incident

ENTRIES = [
    (0, "incident.declared", {"title": "db lost", "severity": "P0", "services": ["database"],
                              "impact_start": T0 - 120}),
    (10, "note", {"type": "action", "text": "promote the replica"}),
    (20, "step.started", {"runbook": "database", "step": "promote", "attempt": 1, "run": "r1"}),
    (25, "health", {"service": "database", "status": "fail", "summary": "refused",
                    "rpo_exposure": 42.0, "key_figure": "lag 42s"}),
    (30, "note", {"type": "communication", "text": "status page"}),
]


def keypair(d: Path, name: str) -> tuple[Path, str]:
    key = d / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)],
                   check=True, capture_output=True)
    return key, (d / f"{name}.pub").read_text().strip()


@pytest.fixture
def keys(tmp_path):
    d = tmp_path / "keys"
    d.mkdir()
    k1, pub1 = keypair(d, "alice")
    k2, _pub2 = keypair(d, "mallory")
    signers = d / "allowed_signers"
    signers.write_text(f'alice@example namespaces="dr-cockpit" {pub1}\n')
    return k1, k2, signers


@pytest.fixture
def incident(tmp_path):
    state = tmp_path / "state"
    write_incident(state, ENTRIES)
    outputs = incident_dir(state, IID) / "outputs"
    outputs.mkdir(exist_ok=True)
    (outputs / "r1.out").write_bytes(b"promoted\n")
    return state


def members(path: Path) -> list[tuple[str, bytes]]:
    with tarfile.open(path) as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar]  # type: ignore[union-attr]


def write_tar(path: Path, items: list[tuple[str, bytes]]) -> None:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in items:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def remanifest(items: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """A forger's bundle: the manifest rewritten to match the members (unsigned)."""
    old = tomllib.loads(dict(items)[MANIFEST].decode())
    meta = {k: v for k, v in old.items() if k not in ("format", "member")}
    rest = [(n, d) for n, d in items if n not in (MANIFEST, SIGNATURE)]
    text = manifest_text(meta, [(n, len(d), hashlib.sha256(d).hexdigest()) for n, d in rest])
    return [(MANIFEST, text.encode()), *rest]


def journal_member(items):
    return next(i for i, (n, _) in enumerate(items) if "/journal/" in n)


def test_capture_holds_what_the_review_needs(tmp_path, incident):
    out = tmp_path / "b.tar"
    res = capture(incident, IID, out)
    assert res.open_incident and not res.signed
    names = [n for n, _ in members(out)]
    assert names[0] == MANIFEST
    assert any(n.startswith(f"state/incidents/{IID}/journal/w-") for n in names)
    assert f"state/incidents/{IID}/outputs/r1.out" in names
    assert "heads.toml" in names
    # the runbook the incident used, byte for byte (the built-in library's "database")
    from cockpit.runbooks.library import builtin_dir
    from cockpit.runbooks.loader import collect_library

    lib, _ = collect_library([builtin_dir()])
    rb = lib.get("database")
    assert dict(members(out))["runbooks/database.toml"] == Path(rb.path).read_bytes()
    m = tomllib.loads(dict(members(out))[MANIFEST].decode())
    assert m["open_incident"] is True and m["incident"] == IID and m["cockpit_version"]
    for item in m["member"]:
        data = dict(members(out))[item["path"]]
        assert item["size"] == len(data)
        assert item["sha256"] == hashlib.sha256(data).hexdigest()
    check = verify_bundle(out)
    assert check.ok, check.problem
    assert check.records == len(ENTRIES) + 1  # and the session-start


def _signed(tmp_path, incident, keys) -> Path:
    out = tmp_path / "signed.tar"
    capture(incident, IID, out, sign_key=keys[0])
    return out


def tamper_cases(tmp_path, incident, keys):
    """name -> (bundle path, what the one-line problem must say)."""
    plain = tmp_path / "plain.tar"
    capture(incident, IID, plain)
    signed = _signed(tmp_path, incident, keys)
    items = members(plain)
    cases = {}

    def make(name, new_items, expect):
        p = tmp_path / f"{name}.tar"
        write_tar(p, new_items)
        cases[name] = (p, expect)

    j = journal_member(items)
    changed = list(items)
    data = bytearray(changed[j][1])
    data[len(data) // 2] ^= 0x01
    changed[j] = (changed[j][0], bytes(data))
    make("member-changed", changed, r"member state/.*/journal/.*: changed")
    make("member-removed", [x for i, x in enumerate(items) if i != j],
         r"member state/.*/journal/.*: removed")
    make("member-added", [*items, ("extra.txt", b"hello")], r"member extra.txt: added")
    make("member-unsafe", [*items, ("../evil", b"x")], r"not a safe relative path")
    # the manifest edited: a member's digest (unsigned) or any byte of a signed one
    m = dict(items)[MANIFEST].decode()
    digest = re.search(r'sha256 = "([0-9a-f]{64})"', m)
    assert digest is not None
    edited = [(n, (m.replace(digest.group(1), "0" * 64).encode() if n == MANIFEST else d))
              for n, d in items]
    make("manifest-edited", edited, r": changed")
    sitems = members(signed)
    sm = dict(sitems)[MANIFEST].decode().replace('title = "db lost"', 'title = "all fine"')
    assert "all fine" in sm
    make("signed-manifest-edited", [(n, sm.encode() if n == MANIFEST else d)
                                    for n, d in sitems], r"signature does not match")
    # a journal record edited, the manifest rewritten to match: the chain tells
    rec = list(items)
    text = rec[j][1].replace(b"promote the replica", b"promote the REPLICA")
    assert text != rec[j][1]
    rec[j] = (rec[j][0], text)
    make("journal-record-edited", remanifest(rec), r"journal state/.*:\d+: seq \d+: ")
    # a signature by another key over the same manifest
    forged = sign_manifest(dict(sitems)[MANIFEST], keys[1])
    make("signed-by-another-key", [(n, forged if n == SIGNATURE else d) for n, d in sitems],
         r"not in the allowed signers")
    # signature removed while an allowed signer is required
    make("signature-removed", [(n, d) for n, d in sitems if n != SIGNATURE],
         r"not signed")
    # truncated archives, at several places
    raw = plain.read_bytes()
    for cut in (len(raw) - 1, len(raw) - 512 * 3, len(raw) // 2, 700, 100):
        p = tmp_path / f"trunc-{cut}.tar"
        p.write_bytes(raw[:cut])
        cases[f"truncated-{cut}"] = (p, r"truncated|not a readable bundle|removed|no MANIFEST")
    return cases


def test_tamper_matrix_each_detected_in_one_line(tmp_path, incident, keys):
    cases = tamper_cases(tmp_path, incident, keys)
    assert len(cases) >= 14
    for name, (path, expect) in cases.items():
        signers = keys[2] if name.startswith(("signed", "signature")) else None
        check = verify_bundle(path, signers)
        assert not check.ok, name
        assert "\n" not in check.problem and check.problem, name
        assert re.search(expect, check.problem), (name, check.problem)
        with pytest.raises(BundleError):
            open_bundle(path, signers)
    # without --allowed-signers every tampering but the signer's identity is still caught
    for name, (path, _expect) in cases.items():
        if name in ("signed-by-another-key", "signature-removed"):
            continue
        assert not verify_bundle(path).ok, name


def test_cli_verify_names_the_problem_and_exits_non_zero(tmp_path, incident, keys, capsys):
    cases = tamper_cases(tmp_path, incident, keys)
    path, _ = cases["journal-record-edited"]
    assert main(["verify", str(path)]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("NOT OK: ") and "seq" in out[0]
    signed = _signed(tmp_path, incident, keys)
    assert main(["verify", str(signed), "--allowed-signers", str(keys[2])]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK: ") and "signed by alice@example, verified" in out
    assert main(["verify", str(cases["signed-by-another-key"][0]), "--allowed-signers",
                 str(keys[2])]) == 1
    capsys.readouterr()
    # a wrong --allowed-signers is named for what it is, in one line, exit 2
    for bad, says in ((tmp_path / "nosuch", "no such allowed signers file"),
                      (Path("/dev/null"), "not a regular file"), (tmp_path, "not a regular file")):
        assert main(["verify", str(signed), "--allowed-signers", str(bad)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"{bad}: {says}" in err[0], err


def test_no_false_alarm_on_100_clean_bundles(tmp_path, keys):
    from journal.helpers import hostile_text

    rng = random.Random(12)
    for i in range(100):
        state = tmp_path / f"s{i}"
        iid = f"20231114-2213{i:02d}-case-{i:04x}"
        entries = [(0, "incident.declared", {"title": hostile_text(rng), "severity": "P1",
                                             "services": ["database"]})]
        for k in range(rng.randint(0, 40)):
            entries.append((k + 1, "note", {"type": "observation",
                                            "text": hostile_text(rng, rng.randint(0, 3000))}))
        write_incident(state, entries, iid=iid, author=hostile_text(rng)[:50] or "a")
        if i % 3 == 0:  # a second writer
            write_incident(state, [(100, "note", {"type": "action", "text": "x"})], iid=iid)
        out = tmp_path / f"b{i}.tar"
        sign = keys[0] if i % 10 == 0 else None
        capture(state, iid, out, sign_key=sign)
        check = verify_bundle(out, keys[2] if sign else None)
        assert check.ok, (i, check.problem)


def test_open_bundle_is_a_state_dir_and_closes(tmp_path, incident, keys):
    from cockpit.journal import read_incident

    b = open_bundle(_signed(tmp_path, incident, keys), keys[2])
    try:
        assert b.incident_id == IID and b.name == "signed.tar"
        assert b.signature == "signed by alice@example, verified"
        assert (b.root / "incidents" / IID / "journal").is_dir()
        got = read_incident(b.root, IID, recover=False).entries
        assert [e.kind for e in got if e.kind != "session-start"] == [k for _, k, _ in ENTRIES]
        assert b.config_text == ""
        assert b.manifest["open_incident"] is True
    finally:
        b.close()
    assert not b.root.exists()
    plain = tmp_path / "p.tar"
    capture(incident, IID, plain)
    with open_bundle(plain) as b2:
        assert b2.signature == "unsigned"
    with open_bundle(_signed(tmp_path, incident, keys)) as b3:  # no allowed signers given
        assert b3.signature.startswith("signature NOT verified")


def test_capture_while_a_writer_appends_is_always_consistent(tmp_path):
    """An open incident captured while another cockpit writes: the heads and the state in
    the bundle are those of the bytes in it (never a head the journal copy lacks)."""
    import threading

    from cockpit.journal import Journal

    state = tmp_path / "state"
    write_incident(state, ENTRIES)
    stop = threading.Event()

    def writer() -> None:
        j = Journal(state, IID, author="bob")
        try:
            i = 0
            while not stop.is_set():
                j.append("note", {"type": "observation", "text": f"still writing {i}"})
                i += 1
        finally:
            j.close()

    t = threading.Thread(target=writer)
    t.start()
    try:
        for i in range(20):
            out = tmp_path / f"live{i}.tar"
            res = capture(state, IID, out)
            assert res.open_incident
            check = verify_bundle(out)
            assert check.ok, (i, check.problem)
    finally:
        stop.set()
        t.join()


def test_a_torn_tail_is_captured_as_it_is_and_noted(tmp_path, incident):
    jfile = next((incident_dir(incident, IID) / "journal").glob("w-*.toml"))
    with open(jfile, "ab") as f:
        f.write(b"[[entry]]\nsize = 99\nseq = ")  # a writer died mid-record
    out = tmp_path / "torn.tar"
    res = capture(incident, IID, out)
    assert any("unfinished record" in n for n in res.notes)
    assert dict(members(out))[f"state/incidents/{IID}/journal/{jfile.name}"] == \
        jfile.read_bytes()
    check = verify_bundle(out)
    assert check.ok, check.problem
