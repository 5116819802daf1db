# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.

"""Bounded, adaptive polling: a Waiter that calls a probe until it says done or failed, or time runs out.

The probe returns ``(status, observation)`` with status one of DONE, FAILED, PENDING. Polling starts
right away, then every 0.05 s for the first 2 s (the fleet waits of a deploy mostly end within a second, and
each check sooner is that much less time between a unit coming up and the deploy seeing it), then every
0.1 s until 10 s, then backs off by 1.5x up to 1 s between checks for long waits, and never sleeps past
the deadline. The clock is injectable so tests run on a fake clock.
"""

from __future__ import annotations

import time

DONE = "done"
FAILED = "failed"
PENDING = "pending"

FAST_INTERVAL = 0.05
FAST_SECONDS = 2.0
STEADY_INTERVAL = 0.1
STEADY_SECONDS = 10.0
MAX_INTERVAL = 1.0
BACKOFF = 1.5

WAIT_ARGSPEC = dict(
    wait=dict(type="bool"),
    wait_timeout=dict(type="int", default=300),
)


class Clock:
    """Monotonic time and sleep; tests substitute a fake one."""

    def now(self):
        return time.monotonic()

    def sleep(self, seconds):
        time.sleep(seconds)


class WaitResult:
    """The outcome of a wait: ``status`` (DONE, FAILED, or PENDING for a timeout), the last observation, elapsed seconds."""

    def __init__(self, status, observation, elapsed, polls, skipped=False):
        self.status = status
        self.observation = observation
        self.elapsed = elapsed
        self.polls = polls
        self.skipped = skipped

    @property
    def done(self):
        return self.status == DONE

    @property
    def failed(self):
        return self.status == FAILED

    @property
    def timed_out(self):
        return self.status == PENDING and not self.skipped


def intervals(fast=FAST_INTERVAL, fast_seconds=FAST_SECONDS, steady_interval=STEADY_INTERVAL,
              steady_seconds=STEADY_SECONDS, maximum=MAX_INTERVAL, factor=BACKOFF):
    """The sleep before each next check: ``fast`` until ``fast_seconds`` of sleep, then ``steady_interval`` until
    ``steady_seconds`` of sleep, then x``factor`` up to ``maximum``."""
    slept = 0.0
    interval = fast
    while True:
        yield interval
        slept += interval
        if slept >= steady_seconds - 1e-9:
            interval = min(maximum, max(interval, steady_interval) * factor)
        elif slept >= fast_seconds - 1e-9:
            interval = steady_interval


class Waiter:
    """Poll ``probe`` until it reports DONE or FAILED, or ``timeout`` seconds have passed."""

    def __init__(self, timeout, clock=None):
        self.timeout = max(0, timeout)
        self.clock = clock or Clock()

    def wait(self, probe):
        start = self.clock.now()
        deadline = start + self.timeout
        polls = 0
        for interval in intervals():
            status, observation = probe()
            polls += 1
            now = self.clock.now()
            if status in (DONE, FAILED) or now >= deadline:
                return WaitResult(status, observation, round(now - start, 3), polls)
            self.clock.sleep(min(interval, deadline - now))
        raise AssertionError("unreachable")


class DummyWaiter:
    """Check mode: never polls, reports the wait as skipped."""

    def __init__(self, *args, **kwargs):
        pass

    def wait(self, probe=None):
        return WaitResult(PENDING, None, 0.0, 0, skipped=True)


def get_waiter(timeout, check_mode=False, clock=None):
    return DummyWaiter() if check_mode else Waiter(timeout, clock=clock)
