"""The bucket as the sync engine sees it: list, get, put-if-absent; every request counted and
bounded by the run's hard deadline (boto3 is synchronous: the engine runs in a thread).

Nothing in the bucket is ever overwritten: every put is ``If-None-Match: *`` (a conditional
put, honoured by AWS S3 since 2024 and by SeaweedFS, the suite's server); a key that exists
answers 412 and the caller compares bytes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..config import SyncConfig


class SyncError(Exception):
    """The bucket could not be reached or refused a request (one line, no secret)."""


class SyncDeadline(SyncError):
    """The run's hard deadline passed: what was done is kept, the rest waits."""


@dataclass(frozen=True)
class Listed:
    key: str
    etag: str
    size: int


def _etag(v: Any) -> str:
    return str(v or "").strip('"')


def describe(e: BaseException) -> str:
    """One line for a failed request (the probes' classification: no secret, no traceback)."""
    try:
        from ..probes._s3 import classify

        cls, msg = classify(e)
        return msg or str(cls)
    except Exception:  # noqa: BLE001
        return type(e).__name__


class Bucket:
    """One S3 client for sync runs. ``begin(deadline)`` starts a run's clock."""

    def __init__(self, cfg: SyncConfig, environ: dict[str, str] | None = None) -> None:
        self.cfg = cfg
        self.environ = environ
        self.requests = 0
        self._until = float("inf")
        self._client: Any = None

    def begin(self, seconds: float) -> None:
        self._until = time.monotonic() + seconds

    def _remaining(self) -> float:
        left = self._until - time.monotonic()
        if left <= 0.05:
            raise SyncDeadline(f"the {self.cfg.deadline:g}s deadline was reached")
        return left

    def client(self) -> Any:
        if self._client is None:
            import boto3.session
            from botocore.config import Config

            from ..probes.base import ProbeError, resolve_secrets

            try:
                secrets = resolve_secrets(self.cfg.credentials, self.environ)
            except ProbeError as e:
                raise SyncError(f"[sync] credentials: {e}") from None
            access = secrets.get("access_key_id") or self.cfg.credentials.get("access_key_id")
            secret = secrets.get("secret_access_key")
            t = max(0.2, self.cfg.deadline)
            cfg = Config(connect_timeout=min(t, 3.0), read_timeout=t,
                         retries={"total_max_attempts": 1, "mode": "standard"},
                         s3={"addressing_style": self.cfg.addressing_style},
                         signature_version="s3v4", user_agent_extra="dr-cockpit-sync",
                         max_pool_connections=4)
            session = boto3.session.Session(
                aws_access_key_id=access if access and secret else None,
                aws_secret_access_key=secret if access and secret else None,
                aws_session_token=secrets.get("session_token"), region_name=self.cfg.region)
            verify: Any = self.cfg.ca_file or self.cfg.verify
            self._client = session.client("s3", endpoint_url=self.cfg.endpoint, config=cfg,
                                          verify=verify)
        return self._client

    def _call(self, op: str, **kw: Any) -> Any:
        self._remaining()
        client = self.client()
        self.requests += 1
        try:
            return getattr(client, op)(**kw)
        except Exception as e:  # noqa: BLE001 - named in one line by the caller
            if _status(e) == 412:
                raise
            if time.monotonic() >= self._until:
                raise SyncDeadline(f"{describe(e)} at the {self.cfg.deadline:g}s deadline"
                                   ) from None
            raise SyncError(describe(e)) from None

    def list(self, prefix: str, *, delimiter: str | None = None) -> Iterator[Listed | str]:
        """Objects under ``prefix`` (a ``str`` for each common prefix with a delimiter)."""
        token: str | None = None
        while True:
            kw: dict[str, Any] = {"Bucket": self.cfg.bucket, "Prefix": prefix, "MaxKeys": 1000}
            if delimiter:
                kw["Delimiter"] = delimiter
            if token:
                kw["ContinuationToken"] = token
            r = self._call("list_objects_v2", **kw)
            for cp in r.get("CommonPrefixes") or ():
                yield str(cp.get("Prefix", ""))
            for o in r.get("Contents") or ():
                yield Listed(str(o["Key"]), _etag(o.get("ETag")), int(o.get("Size", 0)))
            if not r.get("IsTruncated"):
                return
            token = r.get("NextContinuationToken")

    def get(self, key: str, limit: int) -> tuple[bytes, str]:
        r = self._call("get_object", Bucket=self.cfg.bucket, Key=key)
        body = r["Body"]
        try:
            data = body.read(limit + 1)
        except Exception as e:  # noqa: BLE001
            raise SyncError(describe(e)) from None
        finally:
            body.close()
        return data, _etag(r.get("ETag"))

    def put_new(self, key: str, data: bytes) -> str | None:
        """Create ``key``; its ETag, or None when the key already exists (nothing written)."""
        try:
            r = self._call("put_object", Bucket=self.cfg.bucket, Key=key, Body=data,
                           IfNoneMatch="*")
        except Exception as e:
            if _status(e) == 412:
                return None
            raise
        return _etag(r.get("ETag"))

    def close(self) -> None:
        c, self._client = self._client, None
        if c is not None:
            try:
                c.close()
            except Exception:  # noqa: BLE001
                pass


def _status(e: BaseException) -> int | None:
    resp = getattr(e, "response", None)
    if isinstance(resp, dict):
        code = resp.get("Error", {}).get("Code")
        if code in ("PreconditionFailed", "412"):
            return 412
        st = resp.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return int(st) if isinstance(st, int) else None
    return None
