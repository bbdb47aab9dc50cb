"""S3 and wal-g probes against moto's server mode over HTTP, holding a wal-g layout."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime

import boto3
import httpx
import pytest
from botocore.config import Config

from cockpit.health import Status
from cockpit.probes.base import ProbeTarget, run_probe

DEADLINE = 3.0
BUCKET = "cockpit-backups"


def client(endpoint):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(s3={"addressing_style": "path"}))


@pytest.fixture(autouse=True)
def _s3_credentials_env(monkeypatch):
    """Every test here names its credentials by env var; none may depend on another test
    (or on the moto fixture) having set them first."""
    monkeypatch.setenv("COCKPIT_TEST_S3_KEY", os.environ.get("COCKPIT_TEST_S3_KEY", "AKIAEXAMPLEKEY"))
    monkeypatch.setenv("COCKPIT_TEST_S3_SECRET",
                       os.environ.get("COCKPIT_TEST_S3_SECRET", "s3-secret-value-xyz"))


def creds() -> dict:
    return {"access_key_id_env": "COCKPIT_TEST_S3_KEY", "secret_access_key_env": "COCKPIT_TEST_S3_SECRET"}


@pytest.fixture
def layout(moto_endpoint):
    """A wal-g layout under prefix ``db1``; returns (prefix, finish_time, uploaded_at)."""
    httpx.post(f"{moto_endpoint}/moto-api/reset")
    c = client(moto_endpoint)
    c.create_bucket(Bucket=BUCKET)
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
        c.put_object(Bucket=BUCKET, Key=f"{p}basebackups_005/{name}/tar_partitions/part_1.tar.lz4", Body=b"x")
        c.put_object(Bucket=BUCKET, Key=f"{p}basebackups_005/{name}/metadata.json", Body=b"{}")
        c.put_object(Bucket=BUCKET, Key=f"{p}basebackups_005/{name}_backup_stop_sentinel.json",
                     Body=json.dumps(sentinel).encode())
    c.put_object(Bucket=BUCKET, Key=f"{p}basebackups_005/{unfinished}/tar_partitions/part_1.tar.lz4", Body=b"x")
    for seg in range(2, 8):
        c.put_object(Bucket=BUCKET, Key=f"{p}wal_005/00000001000000000000000{seg}.lz4", Body=b"w" * 100)
    c.put_object(Bucket=BUCKET, Key=f"{p}wal_005/00000002.history.lz4", Body=b"h")
    c.put_object(Bucket=BUCKET, Key=f"{p}wal_005/000000010000000000000008.partial.lz4", Body=b"p")
    return "db1", finish, time.time()


def walg(endpoint, prefix, **opts) -> ProbeTarget:
    return ProbeTarget.create("database", "walg", "walg", {
        "bucket": BUCKET, "prefix": prefix, "endpoint": endpoint, **creds(), **opts}, deadline=DEADLINE)


async def test_walg_backup_and_wal_age(moto_endpoint, layout):
    prefix, finish, uploaded = layout
    t = walg(moto_endpoint, prefix)
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


async def test_walg_ages_move_with_injected_now(moto_endpoint, layout):
    prefix, finish, uploaded = layout
    t = walg(moto_endpoint, prefix)
    warn = await run_probe(t, DEADLINE, lambda: uploaded + 600)
    assert warn.status == Status.WARN and "newest WAL" in warn.summary
    fail = await run_probe(t, DEADLINE, lambda: uploaded + 1000)
    assert fail.status == Status.FAIL and 995 <= fail.metrics["rpo_exposure"] <= 1005
    old_backup = await run_probe(t, DEADLINE, lambda: finish + 27 * 3600 + 30)
    assert old_backup.status == Status.FAIL  # WAL is hours old by then as well
    assert "newest base backup 1d03h old" in old_backup.summary


async def test_walg_unfinished_only_and_old_unfinished(moto_endpoint):
    httpx.post(f"{moto_endpoint}/moto-api/reset")
    c = client(moto_endpoint)
    c.create_bucket(Bucket=BUCKET)
    c.put_object(Bucket=BUCKET, Key="db2/basebackups_005/base_000000010000000000000003/tar_partitions/p", Body=b"x")
    res = await run_probe(walg(moto_endpoint, "db2"), DEADLINE)
    assert res.status == Status.FAIL and "no complete base backup" in res.summary
    later = await run_probe(walg(moto_endpoint, "db2"), DEADLINE, lambda: time.time() + 7 * 3600)
    assert "unfinished backup base_000000010000000000000003" in later.summary


async def test_walg_sentinel_without_finish_time_uses_last_modified(moto_endpoint):
    httpx.post(f"{moto_endpoint}/moto-api/reset")
    c = client(moto_endpoint)
    c.create_bucket(Bucket=BUCKET)
    c.put_object(Bucket=BUCKET, Key="db3/basebackups_005/base_000000010000000000000003_backup_stop_sentinel.json",
                 Body=b'{"LSN": 1}')
    c.put_object(Bucket=BUCKET, Key="db3/wal_005/000000010000000000000004.lz4", Body=b"w")
    up = time.time()
    res = await run_probe(walg(moto_endpoint, "db3"), DEADLINE, lambda: up + 3600)
    assert res.metrics["backup_time_source"] == "LastModified"
    assert 3595 <= res.metrics["backup_age"] <= 3605


async def test_s3_bucket_ok_missing_and_bad_credentials(moto_endpoint, layout):
    ok = await run_probe(ProbeTarget.create("s3", "bucket", "s3", {
        "bucket": BUCKET, "endpoint": moto_endpoint, **creds()}), DEADLINE)
    assert ok.status == Status.OK and "credentials valid" in ok.summary, ok
    missing = await run_probe(ProbeTarget.create("s3", "bucket", "s3", {
        "bucket": "no-such-bucket-here", "endpoint": moto_endpoint, **creds()}), DEADLINE)
    assert missing.status == Status.FAIL and missing.error_class == "wrong_answer", missing
    httpx.post(f"{moto_endpoint}/moto-api/reset-auth", content=b"0")
    try:
        bad = await run_probe(ProbeTarget.create("s3", "bucket", "s3", {
            "bucket": BUCKET, "endpoint": moto_endpoint, **creds()}), DEADLINE)
        badw = await run_probe(walg(moto_endpoint, "db1"), DEADLINE)
    finally:
        httpx.post(f"{moto_endpoint}/moto-api/reset-auth", content=b"inf")
    for r in (bad, badw):
        assert (r.status, r.error_class) == (Status.FAIL, "auth"), r
        assert r.summary.startswith("auth failure: credentials rejected")
        assert "s3-secret-value-xyz" not in repr(r)


async def test_s3_refused_and_blackholed(refused_port, blackhole):
    t0 = time.monotonic()
    r = await run_probe(ProbeTarget.create("s3", "b", "s3", {
        "bucket": BUCKET, "endpoint": f"http://127.0.0.1:{refused_port}", **creds()}), 1.0)
    assert (r.status, r.error_class) == (Status.FAIL, "refused"), r
    h = await run_probe(ProbeTarget.create("s3", "b", "s3", {
        "bucket": BUCKET, "endpoint": f"http://127.0.0.1:{blackhole.port}", **creds()}), 1.0)
    assert h.status == Status.FAIL and h.error_class.startswith("timeout"), h
    assert time.monotonic() - t0 < 2.6
