"""HMAC request signatures: a shared secret proves who sent the request and that it was not changed.

The signed message is ``f"{timestamp}.{method}.{path}.".encode() + body`` (``path?query`` with
``sign_query``), the signature its lowercase hex HMAC. The timestamp (Unix seconds) bounds how long
a captured request stays usable; the replay guard closes the rest of that window.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass

from aiproxy_core import ProxyRequest, Unauthorized

from .request_policy import refusal_details
from .settings import HmacSettings

__all__ = ["VerifiedSignature", "expected_signature", "signed_message", "verify_signature"]

# Plain ASCII digits only: int() would also take "+5", "1_000" and other Unicode digits.
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")


@dataclass(frozen=True, slots=True)
class VerifiedSignature:
    signature: str
    #: How long this signature stays inside the time window, i.e. how long a replay must be refused.
    valid_for_seconds: float


def signed_message(timestamp: str, method: str, path: str, body: bytes) -> bytes:
    return f"{timestamp}.{method}.{path}.".encode() + body


def expected_signature(settings: HmacSettings, message: bytes) -> str:
    return hmac.new(settings.secret.get_secret_value().encode(), message, settings.algorithm).hexdigest()


def verify_signature(request: ProxyRequest, settings: HmacSettings, now: float) -> VerifiedSignature:
    """Raise 401 unless the request carries a fresh, correct signature.

    No message says what the signature should have been, or anything derived from the secret.
    """
    given = request.headers.get(settings.header, "").strip()
    stamp = request.headers.get(settings.timestamp_header, "").strip()
    if not given or not stamp:
        absent = [name for name, value in ((settings.header, given), (settings.timestamp_header, stamp)) if not value]
        _refuse(f"the request must be signed: missing {', '.join(absent)}", "missing_signature", missing=absent)
    if not _UNIX_SECONDS.fullmatch(stamp):
        _refuse(f"{settings.timestamp_header} must be a Unix time in whole seconds", "invalid_timestamp")
    age = now - int(stamp)
    if abs(age) > settings.tolerance_seconds:
        _refuse(
            f"the signature's timestamp is {abs(int(age))} s {'old' if age > 0 else 'in the future'}; "
            f"at most {settings.tolerance_seconds} s is accepted (check the client's clock)",
            "signature_expired",
            tolerance_seconds=settings.tolerance_seconds,
        )
    path = request.path
    if settings.sign_query and request.query_string:
        path = f"{path}?{request.query_string}"
    expected = expected_signature(settings, signed_message(stamp, request.method, path, request.body))
    # Bytes, not str: compare_digest refuses non-ASCII str, and header values may hold any latin-1.
    if not hmac.compare_digest(expected.encode(), given.lower().encode("latin-1")):
        _refuse(f"the {settings.header} signature does not match the request", "invalid_signature")
    return VerifiedSignature(expected, int(stamp) + settings.tolerance_seconds - now)


def _refuse(message: str, code: str, **facts: object) -> None:
    raise Unauthorized(message, code=code, details=refusal_details("hmac", **facts))
