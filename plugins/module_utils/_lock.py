# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.

"""The per-stack deploy lock: a Consul session (TTL, behavior release) holding ``houston/<stack>/lock``.

The key's value describes the holder (user, host, controller pid, start time, AWX job id) so a second
deploy that cannot get the lock can say who has it. The key stays after release (the last holder remains
readable); only ``?acquire`` ever writes it.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import time

from ansible_collections.houston.stack.plugins.module_utils._consul import ConsulError, decode_value

LOCK_DELAY = 1
MIN_TTL = 10
MAX_TTL = 86400


def lock_key(stack):
    return f"houston/{stack}/lock"


def job_id():
    """The AWX/Tower job id from the environment, or None."""
    return os.environ.get("AWX_JOB_ID") or os.environ.get("JOB_ID") or None


def default_holder(controller_pid=None):
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    holder = {"user": user, "host": socket.gethostname(), "pid": controller_pid or os.getppid(),
              "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if job_id():
        holder["job_id"] = job_id()
    return holder


def describe_holder(holder, session=None):
    """A sentence naming who holds the lock."""
    if not isinstance(holder, dict) or not holder:
        return f"session {session}" if session else "an unknown holder"
    parts = [f"user {holder.get('user', '?')} on host {holder.get('host', '?')}"]
    if holder.get("pid"):
        parts.append(f"pid {holder['pid']}")
    if holder.get("job_id"):
        parts.append(f"AWX job {holder['job_id']}")
    text = ", ".join(parts)
    if holder.get("started"):
        text += f", since {holder['started']}"
    if session:
        text += f" (session {session})"
    return text


class LockTimeout(Exception):
    """The lock stayed busy until the deadline; ``holder`` and ``session`` name who holds it."""

    def __init__(self, message, holder, session):
        super().__init__(message)
        self.holder = holder
        self.session = session


class DeployLock:
    """The deploy lock of one stack."""

    def __init__(self, client, stack, clock=time.monotonic):
        self.client = client
        self.stack = stack
        self.key = lock_key(stack)
        self._clock = clock

    def state(self, index=None, wait=None):
        """(holding session or None, holder dict or None, X-Consul-Index)."""
        entry, consul_index = self.client.kv_get(self.key, index=index, wait=wait)
        holding, holder = self.read_entry(entry)
        return holding, holder, consul_index

    @staticmethod
    def read_entry(entry):
        """(holding session or None, holder dict or None) of the lock key's KV entry (None: no key)."""
        if entry is None:
            return None, None
        raw = decode_value(entry)
        try:
            holder = json.loads(raw) if raw else None
        except ValueError:
            holder = {"value": raw.decode("utf-8", "replace")}
        return entry.get("Session") or None, holder

    def create_session(self, ttl):
        if not MIN_TTL <= ttl <= MAX_TTL:
            raise ConsulError(f"lock ttl {ttl} is out of range: Consul accepts {MIN_TTL} to {MAX_TTL} seconds")
        return self.client.session_create(f"houston.stack deploy lock {self.stack}", ttl, behavior="release",
                                          lock_delay=LOCK_DELAY)

    def acquire(self, session, holder, wait_timeout):
        """Acquire with ``session``, waiting (blocking queries on the key) up to ``wait_timeout`` seconds.

        Returns the seconds waited; raises LockTimeout naming the holder.
        """
        value = json.dumps(holder, sort_keys=True)
        start = self._clock()
        deadline = start + max(0, wait_timeout)
        index = None
        while True:
            if self.client.kv_put(self.key, value, acquire=session):
                return self._clock() - start
            holding, current, consul_index = self.state()
            if holding == session:
                return self._clock() - start
            remaining = deadline - self._clock()
            if remaining <= 0:
                who = describe_holder(current, holding) if holding else "nobody (the previous holder's lock-delay)"
                raise LockTimeout(f"deploy lock {self.key!r} is held by {who}; gave up after {wait_timeout}s",
                                  current if holding else None, holding)
            if index is not None and consul_index is not None and consul_index < index:
                index = None  # the index went backwards: start over
            index = max(1, consul_index or 1)
            # a free key that refuses acquire is in lock-delay: that ends without a KV change, so wait briefly
            wait = min(remaining, 10 if holding else LOCK_DELAY)
            self.client.kv_get(self.key, index=index, wait=max(1, int(wait)))

    def release(self, session):
        """Release the key if ``session`` holds it, then destroy the session. True when anything changed."""
        holding, holder, _index = self.state()
        changed = False
        if holding == session:
            # the released key keeps the last holder (a release writes its body as the new value)
            holder = dict(holder or {}, released=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            self.client.kv_put(self.key, json.dumps(holder, sort_keys=True), release=session)
            changed = True
        if self.client.session_info(session) is not None:
            self.client.session_destroy(session)
            changed = True
        return changed
