"""One-time codes: RFC 6238 TOTP (6 digits, 30 s, HMAC-SHA1), as authenticator apps and broker logins use them."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import time


def totp(secret: str, at: float | None = None, step: int = 30, digits: int = 6) -> str:
    """The RFC 6238 code of a base32 ``secret`` at time ``at`` (default now)."""
    try:
        key = base64.b32decode(secret.upper().replace(" ", "") + "=" * (-len(secret.replace(" ", "")) % 8))
    except (ValueError, binascii.Error):
        raise ValueError("the one-time code secret is not valid base32") from None
    counter = int((time.time() if at is None else at) // step)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)
