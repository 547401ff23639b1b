"""Optional API keys and per-key token-bucket rate limiting.

Keys are compared in constant time and never logged or echoed back.
"""

from __future__ import annotations

import hmac
import math
import time

from fastapi.responses import JSONResponse

from slakit.stack.openai_errors import error_response


class _Bucket:
    __slots__ = ("tokens", "stamp")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp


class KeyGate:
    """Says who may pass: 401 without a valid key (if keys are set), 429 over the rate.

    The bucket refills at `rate_rps` and holds up to twice that, so short bursts pass.
    With auth off and a rate set, all clients share one bucket.
    """

    def __init__(self, keys: frozenset[str], rate_rps: float | None) -> None:
        self._keys = [k.encode() for k in keys]
        self._rate = rate_rps
        self._burst = 2 * rate_rps if rate_rps else 0.0
        self._buckets: dict[bytes, _Bucket] = {}

    def check(self, authorization: str | None) -> JSONResponse | None:
        """None if the request may pass, else the error response to send."""
        key = b""
        if self._keys:
            scheme, _, given = (authorization or "").partition(" ")
            key = given.strip().encode()
            # Compare against every key so timing does not reveal which one matched.
            matches = [hmac.compare_digest(key, k) for k in self._keys]
            if scheme.lower() != "bearer" or not any(matches):
                return error_response(
                    401,
                    "AuthenticationError",
                    "missing or invalid API key (Authorization: Bearer KEY)",
                    headers={"WWW-Authenticate": "Bearer"},
                )
        if self._rate is None:
            return None
        wait = self._take(key)
        if wait:
            return error_response(
                429,
                "RateLimitError",
                f"rate limit of {self._rate:g} requests/s exceeded",
                headers={"Retry-After": str(math.ceil(wait))},
            )
        return None

    def _take(self, key: bytes) -> float:
        """Take one token; return 0, or the seconds until one is available."""
        now = time.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self._burst, now)
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.stamp) * self._rate)
        bucket.stamp = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self._rate
