"""Exponential backoff: how long every retry loop of the product waits after failures in a row.

Webhook deliveries (30 s, 1 min, 2 min... up to 6 h), the agent's uploads (1 s, 2 s... up to a minute, with
jitter so that a school's cameras do not retry in step) and camera reconnects (1 s... up to 30 s) all use it.
"""

from __future__ import annotations

import random
from collections.abc import Callable


def backoff_delay_s(failures: int, base_s: float, max_s: float, jitter: float = 0.0,
                    rng: Callable[[], float] = random.random) -> float:
    """Seconds to wait after ``failures`` failures in a row (1 is the first): ``base_s``, then twice as long
    each time, never more than ``max_s``. With ``jitter`` (0-1, typically 0.5) the step is multiplied by a
    random factor from ``1 - jitter`` to 1 (``rng`` returns 0-1). ``failures`` of 0 or less counts as 1."""
    exponent = min(max(failures - 1, 0), 64)  # 2**64 steps exceed any max_s; a cap keeps the float finite
    step = min(base_s * 2.0 ** exponent, max_s)
    if jitter <= 0.0:
        return step
    return step * (1.0 - jitter + jitter * rng())


class Backoff:
    """The delays of one retry loop: ``next_delay_s()`` after each failure, ``reset()`` after a success."""

    def __init__(self, base_s: float = 1.0, max_s: float = 60.0, jitter: float = 0.0,
                 rng: Callable[[], float] = random.random) -> None:
        self.base_s = base_s
        self.max_s = max_s
        self.jitter = jitter
        self.failures = 0
        self._rng = rng

    def next_delay_s(self) -> float:
        """Count one more failure and return how long to wait before the next try, in seconds."""
        self.failures += 1
        return backoff_delay_s(self.failures, self.base_s, self.max_s, self.jitter, self._rng)

    def reset(self) -> None:
        """Back to the first step (after a success)."""
        self.failures = 0
