"""Offline review: the capture bundle (``bundle``), the post-incident review (``pir``).

API (the review UI builds on these names)::

    capture(state_dir, incident_id, out, config=None, sign_key=None) -> CaptureResult
    verify_bundle(path, allowed_signers=None) -> BundleCheck   # .ok, .problem, .signature
    open_bundle(path, allowed_signers=None) -> OpenedBundle    # raises BundleError
        .root (a state dir: <root>/incidents/<id>/...), .incident_id, .name, .signature,
        .config_text (redacted, "" when none was captured), .manifest, .close()

The core never imports Textual.
"""

from __future__ import annotations

from .bundle import (
    BundleCheck,
    BundleError,
    CaptureResult,
    OpenedBundle,
    capture,
    open_bundle,
    verify_bundle,
)

__all__ = ["BundleCheck", "BundleError", "CaptureResult", "OpenedBundle", "capture",
           "open_bundle", "verify_bundle"]
