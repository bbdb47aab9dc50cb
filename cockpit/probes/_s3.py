"""S3 plumbing shared by the ``s3`` and ``walg`` kinds: boto3 in a thread, one attempt."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from .. import document as schema
from . import base

T = TypeVar("T")

S3_FIELDS: dict[str, schema.Field] = {
    "bucket": schema.Field("str", required=True),
    "prefix": schema.Field("str", default="", help="key prefix (no leading slash)"),
    "endpoint": schema.Field("str", help="S3 endpoint URL (default: AWS)"),
    "region": schema.Field("str", default="us-east-1"),
    "access_key_id": schema.Field("str", help="access key id (not secret)"),
    "access_key_id_env": schema.Field("str", help="environment variable holding the access key id"),
    "secret_access_key_env": schema.Field("str", help="environment variable holding the secret key"),
    "secret_access_key_file": schema.Field("str", help="file holding the secret key"),
    "session_token_env": schema.Field("str"),
    "addressing_style": schema.Field("str", default="path", choices=("path", "virtual", "auto")),
    "verify": schema.Field("bool", default=True),
    "ca_file": schema.Field("str"),
}


def make_client(target: base.ProbeTarget, deadline: float) -> Any:
    import boto3.session
    from botocore.config import Config

    t = max(0.1, min(deadline, 3.0))
    cfg = Config(connect_timeout=min(t, 2.0), read_timeout=t,
                 retries={"total_max_attempts": 1, "mode": "standard"},
                 s3={"addressing_style": target.opt("addressing_style", "path")},
                 signature_version="s3v4", user_agent_extra="dr-cockpit-probe")
    access = target.secret("access_key_id") or target.opt("access_key_id")
    secret = target.secret("secret_access_key")
    session = boto3.session.Session(
        aws_access_key_id=access if access and secret else None,
        aws_secret_access_key=secret if access and secret else None,
        aws_session_token=target.secret("session_token"),
        region_name=target.opt("region", "us-east-1"))
    verify: Any = target.opt("ca_file") or bool(target.opt("verify", True))
    return session.client("s3", endpoint_url=target.opt("endpoint") or None, config=cfg, verify=verify)


def classify(e: BaseException) -> tuple[str, str]:
    from botocore import exceptions as bexc

    if isinstance(e, bexc.ClientError):
        err = e.response.get("Error", {}) if isinstance(e.response, dict) else {}
        code = str(err.get("Code", "?"))
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") \
            if isinstance(e.response, dict) else None
        msg = f"{code}: {err.get('Message') or ''}".strip(": ")
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken",
                    "InvalidToken", "RequestTimeTooSkewed", "AuthorizationHeaderMalformed") \
                or status in (401, 403):
            return base.AUTH, f"credentials rejected ({msg})"
        if code in ("SlowDown", "TooManyRequests", "RequestLimitExceeded") or status == 429:
            return base.RATE_LIMITED, msg
        if code in ("NoSuchBucket", "404", "NotFound"):
            return base.WRONG_ANSWER, "bucket not found (NoSuchBucket)"
        if status is not None and status >= 500:
            return base.HTTP_5XX, msg
        return base.WRONG_ANSWER, msg
    if isinstance(e, bexc.NoCredentialsError | bexc.PartialCredentialsError):
        return base.CONFIG, "no S3 credentials configured"
    if isinstance(e, bexc.ConnectTimeoutError):
        return base.TIMEOUT_CONNECT, "connect timed out"
    if isinstance(e, bexc.ReadTimeoutError):
        return base.TIMEOUT_READ, "read timed out"
    if isinstance(e, bexc.SSLError):
        return base.TLS, f"TLS failure: {e}"
    if isinstance(e, bexc.EndpointConnectionError):
        text = str(e).lower()
        cause = e.kwargs.get("error") if hasattr(e, "kwargs") else None
        ctext = str(cause).lower()
        if "refused" in text or "refused" in ctext:
            return base.REFUSED, "connection refused"
        return base.NETWORK, " ".join(str(e).split())
    if isinstance(e, bexc.ParamValidationError):
        return base.CONFIG, " ".join(str(e).split())
    if isinstance(e, bexc.BotoCoreError):
        return base.NETWORK, " ".join(str(e).split())
    return base.classify(e)


async def call(target: base.ProbeTarget, deadline: float, fn: Callable[[Any], T]) -> T:
    """Run ``fn(client)`` in a worker thread (boto3 is synchronous). Raises ProbeError.

    On the overall deadline the thread is abandoned; botocore's own timeouts free it later.
    """
    def work() -> T:
        client = make_client(target, deadline)
        try:
            return fn(client)
        finally:
            try:
                client.close()
            except Exception:  # noqa: BLE001
                pass

    try:
        return await asyncio.to_thread(work)
    except base.ProbeError:
        raise
    except Exception as e:  # noqa: BLE001
        cls, msg = classify(e)
        raise base.ProbeError(cls, msg) from None
