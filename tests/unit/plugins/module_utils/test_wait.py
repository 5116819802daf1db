# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import itertools

import pytest

from ansible_collections.houston.stack.plugins.module_utils import _wait as w


class FakeClock:
    def __init__(self):
        self.t = 1000.0
        self.sleeps = []

    def now(self):
        return self.t

    def sleep(self, seconds):
        assert seconds > 0
        self.sleeps.append(round(seconds, 6))
        self.t += seconds


def scripted(statuses):
    it = iter(statuses)
    return lambda: (next(it), "obs")


def test_first_check_is_immediate_then_every_50_ms_then_100_ms_then_backs_off_to_one_second():
    clock = FakeClock()
    result = w.Waiter(60, clock=clock).wait(scripted([w.PENDING] * 129 + [w.DONE]))
    assert result.done and result.polls == 130
    # A change is seen within 50 ms during the first 2 s, within 100 ms until 10 s.
    assert clock.sleeps[:40] == [0.05] * 40
    assert clock.sleeps[40:120] == [0.1] * 80
    assert clock.sleeps[120] == pytest.approx(0.15)
    assert clock.sleeps == sorted(clock.sleeps)
    assert max(clock.sleeps) == 1.0
    assert clock.sleeps[-1] == 1.0


def test_done_at_first_poll_never_sleeps():
    clock = FakeClock()
    result = w.Waiter(60, clock=clock).wait(scripted([w.DONE]))
    assert result.done and clock.sleeps == [] and result.elapsed == 0


def test_failed_stops_at_once():
    clock = FakeClock()
    result = w.Waiter(60, clock=clock).wait(scripted([w.PENDING, w.FAILED, w.DONE]))
    assert result.failed and result.polls == 2 and not result.timed_out


def test_timeout_is_bounded_and_never_oversleeps():
    clock = FakeClock()
    result = w.Waiter(5, clock=clock).wait(lambda: (w.PENDING, "still"))
    assert result.timed_out and result.observation == "still"
    assert result.elapsed == pytest.approx(5.0)
    assert sum(clock.sleeps) == pytest.approx(5.0)


def test_zero_timeout_checks_once():
    clock = FakeClock()
    result = w.Waiter(0, clock=clock).wait(lambda: (w.PENDING, None))
    assert result.polls == 1 and result.timed_out and clock.sleeps == []


def test_dummy_waiter_never_calls_the_probe():
    def probe():
        raise AssertionError("check mode must not poll")
    result = w.get_waiter(10, check_mode=True).wait(probe)
    assert result.skipped and not result.done and not result.timed_out


def test_intervals_sequence():
    assert list(itertools.islice(w.intervals(fast_seconds=0.1, steady_seconds=0.4), 9)) == pytest.approx(
        [0.05, 0.05, 0.1, 0.1, 0.1, 0.15, 0.225, 0.3375, 0.50625])
    assert list(itertools.islice(w.intervals(), 200))[-1] == 1.0
