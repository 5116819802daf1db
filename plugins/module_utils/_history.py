# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.

"""Deploy history of a stack in Consul KV, written with check-and-set so concurrent writers lose nothing.

``houston/<stack>/history``: JSON list of entries, newest first, at most ``keep`` long.
``houston/<stack>/current``: the version of the last successful deploy (plain text).
"""

from __future__ import annotations

import getpass
import json
import os
import random
import socket
import time
import uuid

from ansible_collections.houston.stack.plugins.module_utils._consul import ConsulError, TxnConflict, decode_value

RUNNING = "running"
SUCCESS = "success"
FAILED = "failed"
CAS_ATTEMPTS = 50


class HistoryError(ValueError):
    """A history request that cannot be applied (unknown deploy id...)."""


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def who():
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    info = {"user": user, "host": socket.gethostname()}
    job = os.environ.get("AWX_JOB_ID") or os.environ.get("JOB_ID")
    if job:
        info["job_id"] = job
    return info


def previous_versions(entries, current):
    """Versions of successful deploys, newest first, without duplicates and without ``current``."""
    result = []
    for entry in entries or []:
        version = entry.get("version")
        if entry.get("result") == SUCCESS and version and version != current and version not in result:
            result.append(version)
    return result


class History:
    """The deploy history of one stack."""

    def __init__(self, client, stack, keep=20):
        self.client = client
        self.stack = stack
        self.keep = keep
        self.history_key = f"houston/{stack}/history"
        self.current_key = f"houston/{stack}/current"

    def read(self):
        """(entries newest first, ModifyIndex of the history key or 0, current version or None)."""
        entry, _index = self.client.kv_get(self.history_key)
        entries, index = [], 0
        if entry is not None:
            index = entry["ModifyIndex"]
            raw = decode_value(entry)
            try:
                entries = json.loads(raw) if raw else []
            except ValueError as e:
                raise ConsulError(f"Consul key {self.history_key!r} does not hold a JSON list: {e}") from e
            if not isinstance(entries, list):
                raise ConsulError(f"Consul key {self.history_key!r} does not hold a JSON list")
        current_entry, _index = self.client.kv_get(self.current_key)
        current = decode_value(current_entry).decode("utf-8").strip() or None if current_entry else None
        return entries, index, current

    def update(self, change, check_mode=False):
        """Apply ``change(entries, current) -> (entries, current, entry, changed)`` with check-and-set, retrying.

        Returns (entry, entries, current, changed).
        """
        for attempt in range(CAS_ATTEMPTS):
            entries, index, current = self.read()
            new_entries, new_current, entry, changed = change([dict(e) for e in entries], current)
            new_entries = new_entries[:self.keep]
            if not changed or check_mode:
                return entry, new_entries, new_current, changed
            ops = [{"Verb": "cas", "Key": self.history_key, "Index": index,
                    "Value": json.dumps(new_entries, sort_keys=True).encode("utf-8")}]
            if new_current != current and new_current:
                ops.append({"Verb": "set", "Key": self.current_key, "Value": new_current.encode("utf-8")})
            try:
                self.client.txn(ops, what=f"update of deploy history {self.history_key!r}")
            except TxnConflict:
                time.sleep(random.uniform(0, min(0.5, 0.01 * (attempt + 1))))
                continue
            return entry, new_entries, new_current, True
        raise ConsulError(f"update of deploy history {self.history_key!r}: {CAS_ATTEMPTS} concurrent updates in a row; giving up")

    def start(self, version, units=None, archive=None, deploy_id=None, extra=None, check_mode=False):
        def change(entries, current):
            if deploy_id:
                for existing in entries:
                    if existing.get("id") == deploy_id:
                        return entries, current, existing, False
            entry = {"id": deploy_id or uuid.uuid4().hex, "version": version, "units": list(units or []),
                     "archive": archive, "started": now(), "finished": None, "result": RUNNING}
            entry.update(who())
            entry.update(extra or {})
            return [entry] + entries, current, entry, True
        return self.update(change, check_mode)

    def finish(self, result, deploy_id=None, version=None, units=None, archive=None, check_mode=False):
        def change(entries, current):
            target = None
            for existing in entries:
                if deploy_id and existing.get("id") == deploy_id:
                    target = existing
                    break
                if not deploy_id and existing.get("version") == version and existing.get("result") == RUNNING:
                    target = existing
                    break
            if target is None:
                what = f"id {deploy_id!r}" if deploy_id else f"a running deploy of version {version!r}"
                raise HistoryError(f"deploy history of stack {self.stack!r} has no entry with {what}")
            new_current = target["version"] if result == SUCCESS else current
            if target.get("result") == result:
                return entries, current, target, False
            target["result"] = result
            target["finished"] = now()
            if units is not None:
                target["units"] = list(units)
            if archive is not None:
                target["archive"] = archive
            return entries, new_current, target, True
        return self.update(change, check_mode)
