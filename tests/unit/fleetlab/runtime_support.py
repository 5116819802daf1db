# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers for the ProcessRuntime tests: a recording report callback, machines, unit options, waits."""
from __future__ import annotations

import hashlib
import os
import sys
import threading
import time

import pytest

from lab.fleetlab.runtime import ProcessRuntime

WAIT = 30.0  # generous: the machine is shared; tests never assert on durations
LAB_NET = "127.0.3"
PYTHON = sys.executable


def machine(tmp_path, index: int = 1) -> dict:
    """A machines.json entry on the private net 127.0.3 with its own root under tmp_path."""
    ip = f"{LAB_NET}.{10 + index}"
    machine_id = hashlib.sha256(ip.encode()).hexdigest()[:32]
    root = tmp_path / "machines" / machine_id
    root.mkdir(parents=True, exist_ok=True)
    return {"id": machine_id, "ip": ip, "consul": f"{ip}:8500", "metadata": {}, "root": str(root)}


def options(text: str) -> list[dict]:
    """Unit text (``[Section]`` and ``Key=Value`` lines) to fleet options."""
    result, section = [], None
    for line in text.strip().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        name, _eq, value = line.partition("=")
        result.append({"section": section, "name": name.strip(), "value": value.strip()})
    return result


class Recorder:
    """The runtime's report callback: keeps every report, lets tests wait for a state."""

    def __init__(self):
        self.reports: list[tuple] = []
        self.current: dict[tuple[str, str], tuple] = {}
        self._cond = threading.Condition()

    def __call__(self, machine_id, unit_name, load, active, sub):
        with self._cond:
            self.reports.append((machine_id, unit_name, load, active, sub))
            self.current[(machine_id, unit_name)] = (load, active, sub)
            self._cond.notify_all()

    def history(self, machine_id: str, unit_name: str) -> list[tuple]:
        with self._cond:
            return [r[2:] for r in self.reports if r[:2] == (machine_id, unit_name)]

    def wait_for(self, machine_id: str, unit_name: str, *states: tuple, timeout: float = WAIT) -> tuple:
        """Wait until the unit's last reported triple is one of ``states``; return it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                now = self.current.get((machine_id, unit_name))
                if now in states:
                    return now
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{unit_name} on {machine_id[:8]} never reached {states}; "
                                         f"history: {self.history(machine_id, unit_name)}")
                self._cond.wait(left)

    def wait_seen(self, machine_id: str, unit_name: str, state: tuple, timeout: float = WAIT) -> None:
        """Wait until ``state`` appears anywhere in the unit's history."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while state not in self.history(machine_id, unit_name):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{unit_name} never reported {state}; "
                                         f"history: {self.history(machine_id, unit_name)}")
                self._cond.wait(left)


def wait_until(predicate, timeout: float = WAIT, what: str = "condition"):
    """Poll ``predicate`` until it returns a true value (returned)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def live_pids_with_env(marker: str) -> list[int]:
    """Non-zombie processes whose environment contains the exact entry ``marker`` (KEY=VALUE)."""
    wanted = marker.encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
            if stat[stat.rindex(b")") + 2:].split()[0] in (b"Z", b"X"):
                continue
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if wanted in handle.read().split(b"\0"):
                    found.append(int(entry))
        except (OSError, ValueError):
            continue
    return found


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return False
    return stat[stat.rindex(b")") + 2:].split()[0] not in (b"Z", b"X")


def read_pid(path, timeout: float = WAIT) -> int:
    """Wait for a pid file written by a unit and return the pid."""
    text = wait_until(lambda: path.exists() and path.read_text().strip(), timeout, f"pid file {path}")
    return int(text)


@pytest.fixture(name="recorder")
def recorder_fixture():
    """The report callback of the ``runtime`` fixture."""
    return Recorder()


@pytest.fixture(name="runtime")
def runtime_fixture(tmp_path, recorder):
    """A ProcessRuntime logging under tmp_path/logs, with short default timeouts; shut down after."""
    rt = ProcessRuntime(recorder, str(tmp_path / "logs"), default_timeout_start=60, default_timeout_stop=10)
    yield rt
    rt.shutdown(timeout=60)
