# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Lock helpers that need no Consul: holder description, controller discovery, the keeper's lifetime."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from ansible_collections.houston.stack.plugins.module_utils import _lock as L
from ansible_collections.houston.stack.plugins.module_utils import _lock_keeper as K


def test_describe_holder_names_user_host_pid_job_and_start():
    text = L.describe_holder({"user": "alice", "host": "ctl1", "pid": 42, "job_id": "77", "started": "2026-12-03T10:00:00Z"},
                             "sess-1")
    assert text == "user alice on host ctl1, pid 42, AWX job 77, since 2026-12-03T10:00:00Z (session sess-1)"


def test_default_holder_reads_the_awx_job_id(monkeypatch):
    monkeypatch.delenv("JOB_ID", raising=False)
    monkeypatch.setenv("AWX_JOB_ID", "1234")
    holder = L.default_holder(99)
    assert holder["job_id"] == "1234" and holder["pid"] == 99 and holder["user"] and holder["host"]
    monkeypatch.delenv("AWX_JOB_ID")
    assert "job_id" not in L.default_holder(99)


PROBE = ("import json,os,sys;sys.path[:0]=json.loads(os.environ['PROBE_PATH']);"
         "from ansible_collections.houston.stack.plugins.module_utils._lock_keeper import find_controller;"
         "print(json.dumps(find_controller()))")
# A process named ansible-playbook running `argv` (python with argv[0] replaced, like the controller and its workers).
AS_CONTROLLER = ("import os,subprocess,sys;"
                 "sys.exit(subprocess.call(['ansible-playbook', '-c', os.environ['NEXT']], executable=os.environ['PY'],"
                 " env=dict(os.environ, NEXT=os.environ['LAST'])))")


def test_find_controller_returns_the_top_most_ansible_playbook_ancestor():
    # controller (ansible-playbook) -> worker fork (ansible-playbook) -> sh -> python module
    last = "import subprocess,sys; sys.exit(subprocess.call(['sh', '-c', '\"$PY\" -c \"$PROBE\"']))"
    env = dict(os.environ, PROBE_PATH=json.dumps(sys.path), PROBE=PROBE, NEXT=AS_CONTROLLER, LAST=last, PY=sys.executable)
    proc = subprocess.Popen(["ansible-playbook", "-c", AS_CONTROLLER], executable=sys.executable, stdout=subprocess.PIPE,
                            text=True, env=env)
    out, _err = proc.communicate(timeout=60)
    assert proc.returncode == 0
    pid, start = json.loads(out.strip().splitlines()[-1])
    assert pid == proc.pid and start


def test_keeper_exits_when_the_watched_process_dies_and_keeps_no_token_in_argv():
    watched = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        config = {"url": "http://127.0.0.1:9", "session": "s-123", "ttl": 30, "token": "tok-secret", "timeout": 1}
        pid = K.spawn_keeper(config, watched.pid, K.process_start(watched.pid))
        deadline = time.monotonic() + 30
        while not K.is_keeper(pid, "s-123") and time.monotonic() < deadline:
            time.sleep(0.05)  # until the child has exec'd: before that /proc shows the parent's argv
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            argv = handle.read()
        assert b"tok-secret" not in argv and b"s-123" in argv
        assert K.is_keeper(pid, "s-123") and not K.is_keeper(pid, "other")
    finally:
        watched.kill()
        watched.wait()
    os.waitpid(pid, 0)  # returns once the keeper noticed that the watched process is gone and exited
    assert K.process_start(pid) is None


def test_stop_keeper_signals_only_a_keeper_of_that_session():
    watched = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        pid = K.spawn_keeper({"url": "http://127.0.0.1:9", "session": "s-9", "ttl": 30}, watched.pid,
                             K.process_start(watched.pid))
        assert not K.stop_keeper(watched.pid, "s-9")  # not a keeper: left alone
        assert K.stop_keeper(pid, "s-9")
        os.waitpid(pid, 0)
        assert watched.poll() is None
    finally:
        watched.kill()
        watched.wait()
