"""The S3 server fixture itself: what later tests rely on (conditional writes, data surviving a
stop/start, loopback only, credentials checked, TLS, a loud failure when it cannot start)."""

from __future__ import annotations

import os
import socket
import ssl
import stat
import time

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from .s3server import COMPONENTS, GRPC_OFFSET, S3ServerError, SeaweedS3

pytestmark = pytest.mark.service


def _error(exc: ClientError) -> tuple[str, int]:
    return exc.response["Error"]["Code"], exc.response["ResponseMetadata"]["HTTPStatusCode"]


def test_conditional_put_refuses_an_existing_key_and_keeps_the_object(s3_server):
    c = s3_server.client()
    bucket = s3_server.make_bucket()
    first = c.put_object(Bucket=bucket, Key="seg/0001", Body=b"first", IfNoneMatch="*")
    with pytest.raises(ClientError) as e:
        c.put_object(Bucket=bucket, Key="seg/0001", Body=b"second", IfNoneMatch="*")
    assert _error(e.value) == ("PreconditionFailed", 412)
    got = c.get_object(Bucket=bucket, Key="seg/0001")
    assert got["Body"].read() == b"first"
    assert got["ETag"] == first["ETag"]
    # a new key is written, and the next listing already shows it
    c.put_object(Bucket=bucket, Key="seg/0002", Body=b"next", IfNoneMatch="*")
    keys = [o["Key"] for o in c.list_objects_v2(Bucket=bucket, Prefix="seg/")["Contents"]]
    assert keys == ["seg/0001", "seg/0002"]


@pytest.mark.parametrize("hard", [False, True], ids=["sigterm", "sigkill"])
def test_halt_and_start_keep_ports_buckets_and_objects(s3_server_factory, hard):
    srv = s3_server_factory()
    bucket = srv.make_bucket()
    srv.client().put_object(Bucket=bucket, Key="kept", Body=b"before the outage")
    endpoint, ports, pid = srv.endpoint, dict(srv.ports), srv.pid
    srv.halt(hard=hard)
    assert not srv.running
    with pytest.raises(EndpointConnectionError):
        srv.client(timeout=1.0).list_buckets()  # S3 is down: a partition for the client
    c = srv.client()
    srv.start()
    # the first read right away: ready means the old volumes are served again, not only S3
    assert c.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"before the outage"
    assert (srv.endpoint, srv.ports) == (endpoint, ports) and srv.pid != pid
    assert bucket in [b["Name"] for b in c.list_buckets()["Buckets"]]
    with pytest.raises(ClientError) as e:  # write-once still holds after the restart
        c.put_object(Bucket=bucket, Key="kept", Body=b"after", IfNoneMatch="*")
    assert _error(e.value) == ("PreconditionFailed", 412)


def test_listens_on_loopback_only_on_the_chosen_ports(s3_server):
    assert "-master.telemetry=false" in s3_server.argv()
    ours = {s3_server.ports["https"]}
    for name in COMPONENTS:
        ours |= {s3_server.ports[name], s3_server.ports[name] + GRPC_OFFSET}
    expected = {("127.0.0.1", p) for p in ours}
    deadline = time.monotonic() + 15  # the admin component opens its ports after S3 is ready
    while True:
        socks = s3_server.sockets()
        listening = {(ip, port) for ip, port, _, _ in socks["listen"]}
        if listening >= expected or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert listening == expected
    assert {rip for _, _, rip, _ in socks["other"]} <= {"127.0.0.1"}


def test_wrong_credentials_are_refused(s3_server):
    bucket = s3_server.make_bucket()
    with pytest.raises(ClientError) as e:
        s3_server.client(secret_key="not-the-secret").list_objects_v2(Bucket=bucket)
    assert _error(e.value) == ("SignatureDoesNotMatch", 403)
    with pytest.raises(ClientError) as e:
        s3_server.client(access_key="AKIANOSUCHKEY").list_objects_v2(Bucket=bucket)
    assert _error(e.value) == ("InvalidAccessKeyId", 403)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_tls_listener_verifies_against_its_certificate(s3_server, host):
    bucket = s3_server.make_bucket()
    c = s3_server.client(https=True)
    c.put_object(Bucket=bucket, Key="over-tls", Body=b"x")
    assert c.get_object(Bucket=bucket, Key="over-tls")["Body"].read() == b"x"
    ctx = ssl.create_default_context(cafile=str(s3_server.ca_file))  # checks the SAN
    with socket.create_connection(("127.0.0.1", s3_server.ports["https"]), timeout=5) as raw, \
            ctx.wrap_socket(raw, server_hostname=host) as tls:
        assert tls.version() is not None


def test_a_server_that_never_answers_fails_loudly_with_its_log(tmp_path):
    fake = tmp_path / "weed"
    fake.write_text("#!/bin/sh\necho 'fake weed: pretending to boot'\nexec sleep 600\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    srv = SeaweedS3(str(fake), base_dir=tmp_path, ready_timeout=1.0)
    t0 = time.monotonic()
    with pytest.raises(S3ServerError) as e:
        srv.start()
    assert time.monotonic() - t0 < 10
    assert "not ready within 1s" in str(e.value)
    assert "fake weed: pretending to boot" in str(e.value)  # the log tail
    assert not srv.running  # killed by pid, not left behind
    with pytest.raises(ProcessLookupError):
        os.kill(srv.pid, 0)
    srv.stop()
    assert not srv.dir.exists()


def test_a_restart_onto_a_taken_port_fails_loudly_with_its_log(s3_server_factory):
    srv = s3_server_factory()
    srv.halt()
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT, as weed does
    squatter.bind(("127.0.0.1", srv.ports["s3"]))
    squatter.listen()
    try:
        with pytest.raises(S3ServerError) as e:
            srv.start()
    finally:
        squatter.close()
    assert "exited" in str(e.value) and "weed log tail" in str(e.value)
    assert str(srv.ports["s3"]) in str(e.value)
