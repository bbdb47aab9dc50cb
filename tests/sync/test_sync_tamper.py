"""Objects edited, deleted or added in the bucket by hand are detected on pull and
quarantined (never merged), each with one line naming the writer and sequence."""

from __future__ import annotations

import re

from .test_sync_bastions import declare_everywhere, fingerprint, make_bastions


def seg_keys(client, bucket: str, iid: str) -> list[str]:
    r = client.list_objects_v2(Bucket=bucket, Prefix=f"dr/incidents/{iid}/")
    return sorted(o["Key"] for o in r.get("Contents", []))


def writer_of(key: str) -> str:
    return key.split("/")[3]


def test_edited_deleted_added_objects_are_quarantined(s3_server, tmp_path):
    a, b, c = make_bastions(tmp_path, s3_server, 3)
    iid = declare_everywhere([a, b])
    s3 = s3_server.client()
    bucket = a.config.read_text().split('bucket = "')[1].split('"')[0]
    before = set(seg_keys(s3, bucket, iid))

    # -- edited before anyone pulled it: the chain check refuses it
    assert a.cli("incident", "note", iid, "the real text").returncode == 0
    assert a.sync().returncode == 0
    new = sorted(set(seg_keys(s3, bucket, iid)) - before)
    assert len(new) == 1
    body = s3.get_object(Bucket=bucket, Key=new[0])["Body"].read()
    assert b"the real text" in body
    s3.put_object(Bucket=bucket, Key=new[0], Body=body.replace(b"the real text",
                                                                 b"the fake text"))
    r = b.sync()
    assert r.returncode == 1
    writer = writer_of(new[0])
    first, last = (int(x) for x in re.findall(r"(\d{12})", new[0]))
    lines = [x for x in r.stderr.splitlines() if x.startswith("sync problem:")]
    assert len(lines) == 1, r.stderr
    assert f"writer {writer} seq {first}-{last}" in lines[0]
    assert "hash mismatch" in lines[0] and "quarantined" in lines[0]
    assert not any("fake text" in str(e.get("data")) for e in b.log(iid))
    assert b.verify(iid).returncode == 0
    qfiles = list((b.state / "incidents" / iid / "quarantine").glob("sync.*"))
    assert len(qfiles) == 1 and b"the fake text" in qfiles[0].read_bytes()
    # reported again while it lasts, but downloaded once
    r2 = b.sync()
    assert lines[0] in r2.stderr and "(0 segments)" in r2.stdout.split("pulled")[1]

    # -- edited after it was pulled (by a: it is a's own segment)
    r = a.sync()
    assert f"writer {writer} seq {first}-{last}: segment changed in the bucket" in r.stderr

    # -- deleted: a gap holds the later segments back (one writer, three segments)
    s3.put_object(Bucket=bucket, Key=new[0], Body=body)  # put the original back
    before = set(seg_keys(s3, bucket, iid))
    p = a.writer(iid, 6, sync_every=2)
    p.communicate(timeout=120)
    segs = sorted(set(seg_keys(s3, bucket, iid)) - before)
    assert len(segs) == 3 and len({writer_of(k) for k in segs}) == 1
    gone_writer = writer_of(segs[1])
    gone_first = int(re.findall(r"(\d{12})", segs[1])[0])
    s3.delete_object(Bucket=bucket, Key=segs[1])
    r = c.sync()
    assert r.returncode == 1
    assert (f"writer {gone_writer} seq {gone_first}: missing from the bucket" in r.stderr), \
        r.stderr
    texts = [e.get("data", {}).get("text") for e in c.log(iid)]
    assert "b0 note 1" in texts and "b0 note 5" not in texts  # held, not merged
    assert c.verify(iid).returncode == 0
    # the writer's own bastion sees its segment gone and puts it back from its journal
    r = a.sync()
    assert f"writer {gone_writer} seq {gone_first}-" in r.stderr
    assert "deleted from the bucket (by hand?); pushed again" in r.stderr
    assert segs[1] in seg_keys(s3, bucket, iid)
    r = c.sync()  # the gap is closed: the held segments are merged now
    assert "missing from the bucket" not in r.stderr
    texts = [e.get("data", {}).get("text") for e in c.log(iid)]
    assert "b0 note 5" in texts
    assert c.verify(iid).returncode == 0
    # deleted after b pulled it: b is told (and keeps its copy)
    b.sync()
    assert "b0 note 5" in [e.get("data", {}).get("text") for e in b.log(iid)]
    s3.delete_object(Bucket=bucket, Key=segs[0])
    r = b.sync()
    first0 = int(re.findall(r"(\d{12})", segs[0])[0])
    assert f"writer {gone_writer} seq {first0}-" in r.stderr
    assert "segment deleted from the bucket (by hand?); the local copy is kept" in r.stderr
    assert "b0 note 0" in [e.get("data", {}).get("text") for e in b.log(iid)]
    assert a.sync().returncode == 1  # (a puts it back, and says so)

    # -- added: garbage under a new writer, and an object that is no segment at all
    s3.put_object(Bucket=bucket, Key=f"dr/incidents/{iid}/w-evil-1-abcd/"
                  "000000000001-000000000001.seg", Body=b"[[entry]]\nsize = 5\n")
    s3.put_object(Bucket=bucket, Key=f"dr/incidents/{iid}/notes.txt", Body=b"hello")
    before_b = fingerprint(b, iid)
    r = b.sync()
    assert "writer w-evil-1-abcd seq 1-1:" in r.stderr and "quarantined" in r.stderr
    assert "object notes.txt is not a journal segment" in r.stderr
    assert not any(e["writer"].startswith("w-evil") for e in b.log(iid))
    assert set(before_b) <= set(fingerprint(b, iid))
    assert b.verify(iid).returncode == 0
    # every problem is one line
    for line in r.stderr.splitlines():
        assert line.startswith(("sync problem:", "cockpit: sync:")) or not line.strip()


def test_nothing_in_the_bucket_is_overwritten(s3_server, tmp_path):
    """The conditional put: a key already taken by another object is left as it is and the
    push of that range is refused in one line (SeaweedFS honours ``If-None-Match: *``)."""
    (a,) = make_bastions(tmp_path, s3_server, 1)
    bucket = a.config.read_text().split('bucket = "')[1].split('"')[0]
    r = a.cli("incident", "declare", "--title", "Squatted")
    iid = r.stdout.strip()
    (jfile,) = (a.state / "incidents" / iid / "journal").glob("w-*.toml")
    key = f"dr/incidents/{iid}/{jfile.stem}/000000000001-000000000002.seg"
    s3 = s3_server.client()
    s3.put_object(Bucket=bucket, Key=key, Body=b"squatter")
    r = a.sync()
    assert r.returncode == 1
    assert (f"writer {jfile.stem} seq 1-2: a different object already holds this key in the "
            "bucket: not pushed") in r.stderr
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"squatter"
    assert "0 segments" in r.stdout.split("pulled")[0]
