# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Start and stop a fleetlab subprocess (``python -m lab.fleetlab serve``) on the private lab net."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
LAB_NET = os.environ.get("FLEETLAB_TEST_NET", "127.0.2")
METADATA = [{"role": "web", "az": "a"}, {"role": "web", "az": "b"}, {"role": "worker", "az": "a"}]


class FleetlabProcess:
    def __init__(self, proc, ready, machines, lab_dir):
        self.proc = proc
        self.url = ready["url"]
        self.socket = ready["socket"]
        self.pid = ready["pid"]
        self.machines = machines
        self.lab_dir = lab_dir


def start_fleetlab_process(lab_dir, machines_count=3, extra_args=()):
    lab_dir.mkdir(parents=True, exist_ok=True)
    machines = []
    for index in range(machines_count):
        ip = "%s.%d" % (LAB_NET, 11 + index)
        mid = hashlib.sha256(ip.encode()).hexdigest()[:32]
        machines.append({"id": mid, "ip": ip, "consul": ip + ":8500", "metadata": METADATA[index % 3],
                         "root": str(lab_dir / "machines" / mid)})
    (lab_dir / "machines.json").write_text(json.dumps(machines))
    ready_file = lab_dir / "fleetlab.json"
    # python-fleet sends the escaped socket path as the Host header: httplib2's IDNA step refuses labels
    # over 63 characters, so the socket lives in a short directory
    socket_path = os.path.join(tempfile.mkdtemp(prefix="fl-", dir="/tmp"), "fleet.sock")
    cmd = [sys.executable, "-m", "lab.fleetlab", "serve", "--machines", str(lab_dir / "machines.json"),
           "--socket", socket_path, "--host", LAB_NET + ".1", "--port", "0",
           "--state-dir", str(lab_dir / "fleetlab"), "--ready-file", str(ready_file), "--latency", "0.05", *extra_args]
    log = open(lab_dir / "fleetlab.log", "wb")  # pylint: disable=consider-using-with
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)  # pylint: disable=consider-using-with
    deadline = time.monotonic() + 60
    while not ready_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("fleetlab did not start: %s" % (lab_dir / "fleetlab.log").read_text())
        time.sleep(0.05)
    return FleetlabProcess(proc, json.loads(ready_file.read_text()), machines, lab_dir)


def stop_fleetlab_process(lab):
    if lab.proc.poll() is None:
        lab.proc.send_signal(signal.SIGTERM)
        try:
            lab.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            lab.proc.kill()
            lab.proc.wait()
