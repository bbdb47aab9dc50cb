"""S3 and wal-g probes against a real S3 server (SeaweedFS, the ``s3_server`` fixture) holding
a wal-g layout. Every test has its own bucket; credentials reach the probe through environment
variables set with monkeypatch for the one test only."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from cockpit.health import Status
from cockpit.probes.base import ProbeTarget, run_probe

DEADLINE = 3.0
KEY_ENV, SECRET_ENV = "COCKPIT_TEST_S3_KEY", "COCKPIT_TEST_S3_SECRET"


@pytest.fixture(autouse=True)
def _s3_credentials_env(monkeypatch):
    """Every test here names its credentials by env var; none may depend on another test
    having set them first. Without a server these are placeholders; ``s3`` sets real ones."""
    monkeypatch.setenv(KEY_ENV, "AKIAEXAMPLEKEY")
    monkeypatch.setenv(SECRET_ENV, "s3-secret-value-xyz")


@pytest.fixture
def s3(s3_server, monkeypatch):
    """The worker's S3 server, its credentials in the probe's env vars for this test."""
    monkeypatch.setenv(KEY_ENV, s3_server.access_key)
    monkeypatch.setenv(SECRET_ENV, s3_server.secret_key)
    return s3_server


def creds() -> dict:
    return {"access_key_id_env": KEY_ENV, "secret_access_key_env": SECRET_ENV}


@pytest.fixture
def layout(s3):
    """A wal-g layout under prefix ``db1`` in a fresh bucket; returns (bucket, prefix,
    finish_time, uploaded_at)."""
    c = s3.client()
    bucket = s3.make_bucket(prefix="backups")
    p = "db1/"
    finish = time.time() - 3 * 3600
    old = "base_000000010000000000000002"
    good = "base_000000010000000000000004"
    unfinished = "base_000000010000000000000009"
    for name, fin in ((old, finish - 86400), (good, finish)):
        sentinel = {"Version": 2, "LSN": 1, "FinishLSN": 2, "PgVersion": 150000,
                    "StartTime": datetime.fromtimestamp(fin - 60, UTC).isoformat(),
                    "FinishTime": datetime.fromtimestamp(fin, UTC).isoformat(),
                    "CompressedSize": 12345, "UncompressedSize": 99999, "SystemIdentifier": 7}
        c.put_object(Bucket=bucket, Key=f"{p}basebackups_005/{name}/tar_partitions/part_1.tar.lz4", Body=b"x")
        c.put_object(Bucket=bucket, Key=f"{p}basebackups_005/{name}/metadata.json", Body=b"{}")
        c.put_object(Bucket=bucket, Key=f"{p}basebackups_005/{name}_backup_stop_sentinel.json",
                     Body=json.dumps(sentinel).encode())
    c.put_object(Bucket=bucket, Key=f"{p}basebackups_005/{unfinished}/tar_partitions/part_1.tar.lz4", Body=b"x")
    for seg in range(2, 8):
        c.put_object(Bucket=bucket, Key=f"{p}wal_005/00000001000000000000000{seg}.lz4", Body=b"w" * 100)
    c.put_object(Bucket=bucket, Key=f"{p}wal_005/00000002.history.lz4", Body=b"h")
    c.put_object(Bucket=bucket, Key=f"{p}wal_005/000000010000000000000008.partial.lz4", Body=b"p")
    return bucket, "db1", finish, time.time()


def walg(endpoint, bucket, prefix, **opts) -> ProbeTarget:
    return ProbeTarget.create("database", "walg", "walg", {
        "bucket": bucket, "prefix": prefix, "endpoint": endpoint, **creds(), **opts}, deadline=DEADLINE)


def s3_bucket(endpoint, bucket, **opts) -> ProbeTarget:
    # latency thresholds out of the way: these tests are about answers, and a loaded 2-core
    # machine can take over the default 1 s for HeadBucket + ListObjectsV2
    return ProbeTarget.create("s3", "bucket", "s3", {
        "bucket": bucket, "endpoint": endpoint, "latency_warn": "2500ms", "latency_fail": "2900ms",
        **creds(), **opts}, deadline=DEADLINE)


async def test_walg_backup_and_wal_age(s3, layout):
    bucket, prefix, finish, uploaded = layout
    t = walg(s3.endpoint, bucket, prefix)
    res = await run_probe(t, DEADLINE, lambda: uploaded + 60)
    assert res.status == Status.OK, res
    # the unfinished base_..09 has no sentinel and is ignored
    assert res.metrics["latest_backup"] == "base_000000010000000000000004"
    assert res.metrics["unfinished_backups"] == 1
    assert res.metrics["backup_time_source"] == "FinishTime"
    assert abs(res.metrics["backup_age"] - (uploaded + 60 - finish)) < 2
    # newest real segment, not .history/.partial
    assert res.metrics["newest_wal"] == "000000010000000000000007.lz4"
    assert res.metrics["wal_segments_since_backup"] == 4  # 04 (backup start) .. 07
    assert 58 <= res.metrics["wal_age"] <= 62
    assert res.metrics["rpo_exposure"] == res.metrics["wal_age"]
    assert res.key_figure.startswith("RPO ")


async def test_walg_ages_move_with_injected_now(s3, layout):
    bucket, prefix, finish, uploaded = layout
    t = walg(s3.endpoint, bucket, prefix)
    warn = await run_probe(t, DEADLINE, lambda: uploaded + 600)
    assert warn.status == Status.WARN and "newest WAL" in warn.summary
    fail = await run_probe(t, DEADLINE, lambda: uploaded + 1000)
    assert fail.status == Status.FAIL and 995 <= fail.metrics["rpo_exposure"] <= 1005
    old_backup = await run_probe(t, DEADLINE, lambda: finish + 27 * 3600 + 30)
    assert old_backup.status == Status.FAIL  # WAL is hours old by then as well
    assert "newest base backup 1d03h old" in old_backup.summary


async def test_walg_unfinished_only_and_old_unfinished(s3):
    bucket = s3.make_bucket(prefix="backups")
    s3.client().put_object(Bucket=bucket, Body=b"x",
                           Key="db2/basebackups_005/base_000000010000000000000003/tar_partitions/p")
    res = await run_probe(walg(s3.endpoint, bucket, "db2"), DEADLINE)
    assert res.status == Status.FAIL and "no complete base backup" in res.summary
    later = await run_probe(walg(s3.endpoint, bucket, "db2"), DEADLINE, lambda: time.time() + 7 * 3600)
    assert "unfinished backup base_000000010000000000000003" in later.summary


async def test_walg_sentinel_without_finish_time_uses_last_modified(s3):
    c = s3.client()
    bucket = s3.make_bucket(prefix="backups")
    c.put_object(Bucket=bucket, Key="db3/basebackups_005/base_000000010000000000000003_backup_stop_sentinel.json",
                 Body=b'{"LSN": 1}')
    c.put_object(Bucket=bucket, Key="db3/wal_005/000000010000000000000004.lz4", Body=b"w")
    up = time.time()
    res = await run_probe(walg(s3.endpoint, bucket, "db3"), DEADLINE, lambda: up + 3600)
    assert res.metrics["backup_time_source"] == "LastModified"
    assert 3595 <= res.metrics["backup_age"] <= 3605


async def test_s3_bucket_ok_missing_and_bad_credentials(s3, layout, monkeypatch):
    bucket = layout[0]
    ok = await run_probe(s3_bucket(s3.endpoint, bucket), DEADLINE)
    assert ok.status == Status.OK and "credentials valid" in ok.summary, ok
    assert ok.metrics["listed_keys"] == 1
    missing = await run_probe(s3_bucket(s3.endpoint, "no-such-bucket-here"), DEADLINE)
    assert missing.status == Status.FAIL and missing.error_class == "wrong_answer", missing
    assert "bucket not found" in missing.summary
    # the server checks signatures: a wrong secret, then an unknown key id, are refused
    wrong_secret = "s3-secret-value-xyz-wrong"
    monkeypatch.setenv(SECRET_ENV, wrong_secret)
    bad = await run_probe(s3_bucket(s3.endpoint, bucket), DEADLINE)
    badw = await run_probe(walg(s3.endpoint, bucket, "db1"), DEADLINE)
    monkeypatch.setenv(SECRET_ENV, s3.secret_key)
    monkeypatch.setenv(KEY_ENV, "AKIANOSUCHKEY0000")
    unknown = await run_probe(s3_bucket(s3.endpoint, bucket), DEADLINE)
    for r in (bad, badw, unknown):
        assert (r.status, r.error_class) == (Status.FAIL, "auth"), r
        assert r.summary.startswith("auth failure: credentials rejected")
        assert wrong_secret not in repr(r) and s3.secret_key not in repr(r)


async def test_s3_bucket_over_tls_verifies_the_server_certificate(s3):
    bucket = s3.make_bucket()
    ok = await run_probe(s3_bucket(s3.https_endpoint, bucket, ca_file=str(s3.ca_file)), DEADLINE)
    assert ok.status == Status.OK and "credentials valid" in ok.summary, ok
    # without the CA, the self-signed certificate is refused (default trust store)
    untrusted = await run_probe(s3_bucket(s3.https_endpoint, bucket), DEADLINE)
    assert (untrusted.status, untrusted.error_class) == (Status.FAIL, "tls"), untrusted


async def test_s3_refused_and_blackholed(refused_port, blackhole):
    # refused: the class is the point, so a roomy deadline (a worker's first boto3 client can
    # take over a second on a busy 2-core machine); blackholed: the probe ends at its deadline
    r = await run_probe(ProbeTarget.create("s3", "b", "s3", {
        "bucket": "backups", "endpoint": f"http://127.0.0.1:{refused_port}", **creds()}), DEADLINE)
    assert (r.status, r.error_class) == (Status.FAIL, "refused"), r
    t0 = time.monotonic()
    h = await run_probe(ProbeTarget.create("s3", "b", "s3", {
        "bucket": "backups", "endpoint": f"http://127.0.0.1:{blackhole.port}", **creds()}), 1.0)
    assert h.status == Status.FAIL and h.error_class.startswith("timeout"), h
    assert time.monotonic() - t0 < 1.8


async def test_M2_failing_backups_put_the_rpo_at_risk_never_idle(s3):
    """ux-review M2: when backups fail, the RPO clock says UNKNOWN (never "-")."""
    from cockpit.health import ServiceHealth
    from cockpit.incident.clocks import Level, rpo_at_risk, rpo_exposure

    bucket = s3.make_bucket(prefix="backups")
    s3.client().put_object(Bucket=bucket, Body=b"x",
                           Key="db4/basebackups_005/base_000000010000000000000003/tar_partitions/p")
    res = await run_probe(walg(s3.endpoint, bucket, "db4"), DEADLINE)
    assert res.status == Status.FAIL and res.metrics["rpo_at_risk"] is True
    h = ServiceHealth("backups", "S3 backups", res.status, res.summary, res.observed_at,
                      probes={"walg": res}, rpo_exposure=None)
    c = rpo_exposure("rpo:backups", "RPO S3 backups", 900.0, h.rpo_exposure, rpo_at_risk(h))
    assert c.level == Level.UNKNOWN and c.value_text() != "-"
