"""Optional API keys, per-key token-bucket rate limiting, and a failed-auth limiter.

Keys are compared in constant time and never logged or echoed back. A client (by IP) that
keeps presenting wrong or missing keys is answered 429 before any key is compared, so keys
cannot be guessed at the speed of the network.
"""

from __future__ import annotations

import hmac
import math
import time
from collections import OrderedDict
from collections.abc import Hashable

from fastapi.responses import JSONResponse

from slakit.stack.openai_errors import error_response

# A client may fail authentication this many times in a row at once (typos, a rotated key)...
FAILED_AUTH_BURST = 10
# ...and regains one attempt every FAILED_AUTH_WINDOW_S / FAILED_AUTH_BURST seconds: at most
# FAILED_AUTH_BURST guesses per window, sustained, instead of thousands per second.
FAILED_AUTH_WINDOW_S = 60.0
# Clients whose failures are remembered at most; the least recently failing is forgotten
# first. 10,000 entries are a few MB, whatever a flood of source addresses sends.
MAX_TRACKED_CLIENTS = 10_000


class TokenBuckets:
    """Token buckets by key, all holding up to `capacity` and refilling at `per_second`.

    At most `max_keys` are kept: a bucket that has refilled is the same as a new one, so
    forgetting the least recently used when the map is full loses the least."""

    def __init__(self, capacity: float, per_second: float, max_keys: int) -> None:
        self.capacity = capacity
        self.per_second = per_second
        self._max_keys = max_keys
        self._buckets: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()  # tokens, at

    def _tokens(self, key: Hashable, now: float) -> float:
        if key not in self._buckets:
            return self.capacity
        tokens, stamp = self._buckets[key]
        return min(self.capacity, tokens + (now - stamp) * self.per_second)

    def wait(self, key: Hashable) -> float:
        """Seconds until `key` has a token (0: it has one now); takes none, stores nothing."""
        return max(0.0, 1 - self._tokens(key, time.monotonic())) / self.per_second

    def take(self, key: Hashable) -> float:
        """Take one token: 0 if taken, else the seconds until one is available."""
        now = time.monotonic()
        tokens = self._tokens(key, now)
        if tokens < 1:
            return (1 - tokens) / self.per_second
        self._buckets[key] = (tokens - 1, now)
        self._buckets.move_to_end(key)
        if len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return 0.0


def _too_many(wait_s: float, message: str) -> JSONResponse:
    return error_response(
        429, "RateLimitError", message, headers={"Retry-After": str(math.ceil(wait_s))}
    )


class KeyGate:
    """Says who may pass: 429 to a client over its failed-auth allowance, 401 without a
    valid key (if keys are set), 429 over the rate.

    The rate bucket refills at `rate_rps` and holds up to twice that, so short bursts pass.
    With auth off and a rate set, all clients share one bucket. The failed-auth allowance is
    per client address: while it is spent, that address is refused even with a valid key
    (checking the key would tell a guesser whether it was right); other clients pass.
    """

    def __init__(self, keys: frozenset[str], rate_rps: float | None) -> None:
        self._keys = [k.encode() for k in keys]
        self._rate = rate_rps
        self._per_key = None
        if rate_rps is not None:
            self._per_key = TokenBuckets(2 * rate_rps, rate_rps, max(1, len(keys)))
        self._failures = TokenBuckets(
            FAILED_AUTH_BURST, FAILED_AUTH_BURST / FAILED_AUTH_WINDOW_S, MAX_TRACKED_CLIENTS
        )

    def check(self, authorization: str | None, client: str) -> JSONResponse | None:
        """None if the request from address `client` may pass, else the response to send."""
        key = b""
        if self._keys:
            if wait := self._failures.wait(client):
                return _too_many(wait, "too many failed authentication attempts")
            scheme, _, given = (authorization or "").partition(" ")
            key = given.strip().encode()
            # Compare against every key so timing does not reveal which one matched.
            matches = [hmac.compare_digest(key, k) for k in self._keys]
            if scheme.lower() != "bearer" or not any(matches):
                self._failures.take(client)
                return error_response(
                    401,
                    "AuthenticationError",
                    "missing or invalid API key (Authorization: Bearer KEY)",
                    headers={"WWW-Authenticate": "Bearer"},
                )
        if self._per_key is None:
            return None
        if wait := self._per_key.take(key):
            return _too_many(wait, f"rate limit of {self._rate:g} requests/s exceeded")
        return None
