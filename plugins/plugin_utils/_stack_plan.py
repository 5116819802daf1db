# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.

"""The plan of a deploy (houston.stack.stack_plan): what each unit needs, what the prune removes, whether to deploy.

The stack_deploy role used to plan in seven tasks: look at the deploy lock, read the history, predict the file
archive, read fleet's units, compute the plan (a templated set_fact), predict the prune, decide. Each task is a
worker process and a templating pass (30-80 ms), so the plan is now one action running the same modules, in check
mode, through ``run`` and computing the plan with the same filters. :func:`plan_stack` holds that logic apart from
ansible's plumbing, so it is tested with any ``run``.
"""

from __future__ import annotations

import datetime
import hashlib
import time

from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.houston.stack.plugins.filter.stack import (
    stack_chain,
    stack_keep_units,
    stack_redeploy_plan,
    stack_unit_operations,
)


def _content_version(units):
    """The version a global or standalone stack deployed without one gets: its units' content names it."""
    text = "\n".join(str(unit.get("content")) for unit in units)
    return hashlib.sha1(to_bytes(text, errors="surrogate_or_strict")).hexdigest()[:8]


def _archive_entry(archive):
    return {"fleet_name": archive["unit_name"], "text": archive["unit_content"], "version": archive["sha256"][:8],
            "marker": False, "archive": True}


def chain_units(kind, stack, rendered, archive, dependencies):
    """The units of the deploy in launch order, each with its final ``content`` (requires, marker).

    A global stack deploys its file archive after its units (so the Consul agents are up first), unchained; the
    others extract it first, at the head of the chain.
    """
    archive_entries = [_archive_entry(archive)] if archive else []
    if kind == "global":
        return stack_chain(rendered, stack, dependencies) + stack_chain(archive_entries, stack, False)
    return stack_chain(archive_entries + list(rendered), stack, dependencies)


def plan_stack(options, run):
    """Plan a deploy of ``options['stack']``; ``run(step, module, args)`` runs a module of the collection in check mode.

    ``run`` returns the module's result, or raises (``_module_steps.StepError``) naming ``step``. Returns what the role
    keeps: each module's result (``lock``, ``history``, ``archive``, ``fleet_units``, ``prune``), the chain
    (``final``, ``names``, ``version``), what each unit needs (``plan``, ``changes``), what the prune keeps
    (``keep``) and whether anything is to be done (``needed``).
    """
    stack, kind = options["stack"], options["kind"]
    global_stack = kind == "global"

    lock = {}
    if options["look_at_lock"]:
        lock = run("looking at the deploy lock", "consul_lock", {"stack": stack, "state": "acquired"})
    history = run("reading the deploy history", "consul_history_info", {"stack": stack})
    archive = {"skipped": True, "changed": False}
    if options["files"]:
        archive = run("predicting the file archive", "consul_archive", {"stack": stack, "files": options["files"]})
    # One read of fleet's units for the whole chain (a service or standalone stack's units all start with its name).
    fleet_units = run("reading the units fleet knows", "fleet_unit_info", {"prefix": "" if global_stack else stack})

    final = chain_units(kind, stack, options["units"], None if archive.get("skipped") else archive,
                        options["dependencies"])
    names = [unit["fleet_name"] for unit in final]
    version = str(options["version"] or "") or _content_version(final)
    plan = stack_redeploy_plan(names, stack_unit_operations(final, fleet_units.get("units") or []))
    keep = stack_keep_units(history.get("history") or [], names, options["keep_versions"], version)

    prune_args = {"stack": stack, "keep": keep, "keep_versions": 0, "max_remove": options["max_remove"]}
    if global_stack:
        prune_args["prefix"] = ""
    prune = run("predicting what the prune removes", "fleet_prune", prune_args)

    changes = [step for step in plan if step["action"] != "keep"]
    needed = bool(changes or prune.get("would_remove") or archive.get("changed")
                  or history.get("current") != version or options["rolling_back"])

    # Nothing to deploy, and no other deploy at work: the running version must pass in Consul (the one read that
    # waits, so not in check mode). A deploy checks it after its launch instead, and another deploy's holder will.
    verified = {}
    if options["verify_consul"] and not needed and not lock.get("held") and not options["check_mode"]:
        instances = sum(1 for unit in final if "instance" in unit)
        verified = run("verifying the service in Consul (nothing to deploy)", "consul_service_wait", {
            "service": options["consul_service"], "tag": version, "min_passing": max(instances, 1),
            "wait_timeout": options["consul_wait_timeout"]}, predicting=False)
    return {
        "lock": lock,
        "history": history,
        "archive": archive,
        "fleet_units": fleet_units,
        "prune": prune,
        "final": final,
        "names": names,
        "version": version,
        "plan": plan,
        "keep": keep,
        "changes": changes,
        "needed": needed,
        "verified": verified,
        # The report's start, as now(utc=true) gives it (naive UTC), and the clock its total is measured against.
        "started": datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None).isoformat(),
        "start_stamp": time.time(),
    }
