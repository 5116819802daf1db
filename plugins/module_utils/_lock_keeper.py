# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.

"""The lock keeper: a detached process that renews a Consul session while the controller lives.

A module's files vanish when it exits, so the keeper is a self-contained Python source run with
``python -c``; its configuration (with the token) arrives as one JSON line on stdin, never in argv or
the environment. It renews the session every ttl/3 while the watched controller process (ansible-playbook)
is alive, and exits without renewing when that process is gone (the lock then expires by its TTL), when the
session is gone (released), or on SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

KEEPER_TAG = "houston-lock-keeper"
CONTROLLER_NAMES = ("ansible-playbook", "ansible", "ansible-console")

BOOT = "import sys,json;c=json.loads(sys.stdin.readline());sys.stdin.close();exec(c.pop('code'))"

KEEPER_CODE = r'''
import json, os, signal, ssl, sys, time, urllib.error, urllib.parse, urllib.request

def _stop(signum, frame):
    sys.exit(0)

signal.signal(signal.SIGTERM, _stop)
signal.signal(signal.SIGHUP, signal.SIG_IGN)

def alive(pid, start):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return fields[0] not in ("Z", "X") and fields[19] == start

def renew():
    url = c["url"].rstrip("/") + "/v1/session/renew/" + urllib.parse.quote(c["session"], safe="")
    if c.get("datacenter"):
        url += "?dc=" + urllib.parse.quote(c["datacenter"], safe="")
    req = urllib.request.Request(url, data=b"", method="PUT")
    if c.get("token"):
        req.add_header("X-Consul-Token", c["token"])
    ctx = None
    if url.startswith("https://"):
        ctx = ssl.create_default_context(cafile=c.get("ca_path") or None)
        if not c.get("validate_certs", True):
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if c.get("client_cert"):
            ctx.load_cert_chain(c["client_cert"], c.get("client_key") or None)
    try:
        # The keeper outlives the module's AnsiballZ payload, so it cannot import the collection's
        # transport: a private opener (never the process-global one) does the single PUT.
        opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=ctx))
        with opener.open(req, timeout=c.get("timeout", 10)) as resp:
            resp.read()
        return True
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return False
        return None
    except Exception:
        return None

interval = max(1.0, c["ttl"] / 3.0)
next_renew = time.monotonic() + interval
while True:
    if not alive(c["watch_pid"], c["watch_start"]):
        sys.exit(0)
    now = time.monotonic()
    if now >= next_renew:
        ok = renew()
        if ok is False:
            sys.exit(0)
        next_renew = now + (interval if ok else 1.0)
    time.sleep(min(1.0, max(0.05, next_renew - time.monotonic())))
'''


def process_start(pid):
    """The start time (clock ticks since boot) of a process, or None when it does not exist."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return fields[19]
    except (OSError, IndexError):
        return None


def _parent(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _argv(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return [a.decode("utf-8", "replace") for a in handle.read().split(b"\0") if a]
    except OSError:
        return []


def find_controller(start_pid=None):
    """The top-most ancestor that runs ansible-playbook (or ansible / ansible-console), as (pid, start) or None.

    Ansible's task workers are forks of the controller with the same command line, and they end with the task;
    the top-most one is the controller itself.
    """
    pid = start_pid or os.getppid()
    found = None
    for _depth in range(64):
        if pid <= 1:
            break
        argv = _argv(pid)
        names = [os.path.basename(a) for a in argv[:2]]
        if any(name in CONTROLLER_NAMES for name in names):
            found = pid
        pid = _parent(pid)
    if found is None:
        return None
    return found, process_start(found)


def spawn_keeper(config, watch_pid, watch_start):
    """Start the detached keeper for ``config`` (url, session, ttl, token, TLS...); returns its pid."""
    payload = dict(config, watch_pid=int(watch_pid), watch_start=str(watch_start), code=KEEPER_CODE)
    proc = subprocess.Popen(  # pylint: disable=consider-using-with
        [sys.executable, "-c", BOOT, KEEPER_TAG, config["session"]],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, close_fds=True, cwd="/",
    )
    proc.stdin.write((json.dumps(payload) + "\n").encode("utf-8"))
    proc.stdin.close()
    # Popen returns once exec has begun, but the kernel fills /proc/<pid>/cmdline a moment later: until then the
    # keeper could not be told from another process (is_keeper), so stop_keeper would leave it running.
    deadline = time.monotonic() + 5
    while not is_keeper(proc.pid, config["session"]) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    return proc.pid


def is_keeper(pid, session):
    """True when ``pid`` is the keeper of ``session`` (checked on its command line before signalling it)."""
    argv = _argv(pid)
    return KEEPER_TAG in argv and session in argv


def stop_keeper(pid, session):
    """SIGTERM the keeper of ``session``; True when it was running."""
    if not pid or not is_keeper(int(pid), session):
        return False
    try:
        os.kill(int(pid), signal.SIGTERM)
    except OSError:
        return False
    return True
