"""The password check behind the login page.

Chainlit hands the login callback only a name and a password (no client address), so
repeated failures are counted per user name, in this process's memory: after
`FREE_FAILURES` in a row, that name is refused, right password or not, for a delay that
doubles with each further failure. Only configured names are counted, so made-up names
cannot grow the table, and a refused login looks the same as a wrong password.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable

log = logging.getLogger("genai101")


class LoginGuard:
    FREE_FAILURES = 5
    FIRST_DELAY_S = 1.0
    MAX_DELAY_S = 900.0

    def __init__(
        self, passwords: dict[str, str], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._passwords = {name: pw.encode() for name, pw in passwords.items()}
        self._clock = clock
        self._failures: dict[str, int] = {}
        self._refused_until: dict[str, float] = {}

    def check(self, username: str, password: str) -> bool:
        """Whether this login may proceed. The comparison takes the same time wherever the
        password differs (and for unknown names), so timing does not reveal a prefix."""
        now = self._clock()
        if now < self._refused_until.get(username, 0.0):
            return False
        expected = self._passwords.get(username)
        matches = hmac.compare_digest(password.encode(), expected or b"\0")
        if expected is None:
            return False
        if matches:
            self._failures.pop(username, None)
            self._refused_until.pop(username, None)
            return True
        failures = self._failures.get(username, 0) + 1
        self._failures[username] = failures
        if failures >= self.FREE_FAILURES:
            doublings = min(failures - self.FREE_FAILURES, 30)  # 2**30 s is past any cap
            delay = min(self.FIRST_DELAY_S * 2**doublings, self.MAX_DELAY_S)
            self._refused_until[username] = now + delay
            log.warning(
                "login: %d failures for %r, refusing it for %.0f s", failures, username, delay
            )
        return False
