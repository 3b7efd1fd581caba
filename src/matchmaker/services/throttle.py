"""Login throttling: failed logins are counted per account and per client address (moving windows, the `limits`
library); past either limit a login answers 429, even with the right password, until the window frees up."""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from matchmaker.errors import TooManyRequests


class LoginThrottle:
    """Counters of failed logins of one worker process (each worker counts its own: with N workers an attacker gets
    at most N times the limit, still a few dozen guesses per window instead of thousands)."""

    def __init__(self, per_account: str, per_address: str) -> None:
        self.per_account = parse(per_account)
        self.per_address = parse(per_address)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def check(self, email: str, address: str) -> None:
        """429 when the account or the address has used up its failed attempts."""
        for item, key, what in self._keys(email, address):
            if not self.limiter.test(item, key):
                reset = self.limiter.get_window_stats(item, key).reset_time
                retry_after = max(1, math.ceil(reset - time.time()))
                raise TooManyRequests(
                    f"too many failed logins for this {what}; try again in {retry_after} s",
                    headers={"Retry-After": str(retry_after)},
                    retry_after=retry_after,
                )

    def failed(self, email: str, address: str) -> None:
        """Count one failed login against the account and the address."""
        for item, key, _ in self._keys(email, address):
            self.limiter.hit(item, key)

    def _keys(self, email: str, address: str) -> list[tuple[RateLimitItem, str, str]]:
        return [
            (self.per_account, f"account:{email.strip().lower()}", "account"),
            (self.per_address, f"address:{address}", "address"),
        ]
