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

from ansible.errors import AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.houston.stack.plugins.filter.stack import (
    stack_chain,
    stack_instances,
    stack_keep_units,
    stack_redeploy_plan,
    stack_unit_operations,
)
from ansible_collections.houston.stack.plugins.plugin_utils._stack_finish import prune_arguments

ROLL_DEFAULTS = {"mode": "instances", "batch_size": 1, "max_unavailable": 1, "order": "start_first",
                 "rollback_on_failure": True}
ROLL_SPEC = {
    "instances": {"type": "int"},
    "mode": {"type": "str", "choices": ["instances", "per_machine"]},
    "batch_size": {"type": "int"},
    "max_unavailable": {"type": "int"},
    "order": {"type": "str", "choices": ["start_first", "stop_first"]},
    "rollback_on_failure": {"type": "bool"},
}


def _content_version(units):
    """The version a global or standalone stack deployed without one gets: its units' content names it."""
    text = "\n".join(str(unit.get("content")) for unit in units)
    return hashlib.sha1(to_bytes(text, errors="surrogate_or_strict")).hexdigest()[:8]


def _archive_entry(archive):
    return {"fleet_name": archive["unit_name"], "text": archive["unit_content"], "version": archive["sha256"][:8],
            "marker": False, "archive": True}


def has_instances(kind, instances, rolling):
    """Whether the service unit becomes instances: ``instances: N`` or rolling mode ``per_machine``."""
    return kind == "service" and (int(instances or 0) > 0 or (rolling or {}).get("mode") == "per_machine")


def rolling_settings(instances, rolling):
    """The rolling settings of a service with instances (the defaults under the given ones), checked."""
    validated = ArgumentSpecValidator(ROLL_SPEC).validate(dict(ROLL_DEFAULTS, **(rolling or {}), instances=instances))
    if validated.error_messages:
        raise AnsibleError(f"invalid rolling settings: {'; '.join(validated.error_messages)}")
    roll = {key: value for key, value in validated.validated_parameters.items() if key != "instances"}
    instances = validated.validated_parameters["instances"] or 0
    if (roll["batch_size"] < 1 or roll["max_unavailable"] < 0
            or (roll["order"] == "stop_first" and roll["batch_size"] > roll["max_unavailable"])
            or (roll["mode"] == "per_machine" and instances != 0)):
        raise AnsibleError(
            f"invalid rolling settings {roll} (instances {instances}): batch_size must be at least 1 and "
            "max_unavailable at least 0; order stop_first needs batch_size <= max_unavailable (it stops a whole batch "
            "before starting its replacements); mode per_machine is for a global service and cannot be combined with "
            "instances.")
    return roll


def expand_instances(stack, version, units, roll, instances, machines):
    """``units`` with the service unit replaced by its instances (``instances: N``, or one per machine)."""
    others = [unit for unit in units if "service" not in unit]
    service = next((unit for unit in units if "service" in unit), None)
    if service is None:
        raise AnsibleError("instances need a service unit, and the stack has none")
    per_machine = roll["mode"] == "per_machine"
    return others + stack_instances(service, stack, version, count=None if per_machine else instances,
                                    machines=machines if per_machine else None,
                                    taken=[unit["fleet_name"] for unit in others])


def chain_units(kind, stack, rendered, archive, dependencies):
    """The units of the deploy in launch order, each with its final ``content`` (requires, marker).

    A global stack deploys its file archive after its units (so the Consul agents are up first), unchained; the
    others extract it first, at the head of the chain.
    """
    archive_entries = [_archive_entry(archive)] if archive else []
    if kind == "global":
        return stack_chain(rendered, stack, dependencies) + stack_chain(archive_entries, stack, False)
    return stack_chain(archive_entries + list(rendered), stack, dependencies)


def plan_stack(options, run, done=None):
    """Plan a deploy of ``options['stack']``, taking its deploy lock when it has something to do.

    ``run(step, module, args, predicting=None)`` runs a module of the collection, in check mode unless ``predicting``
    is False. It returns the module's result, or raises (``_module_steps.StepError``) naming ``step``.

    The plan reads only (:func:`plan_once`). With ``take_lock`` (and not in check mode), a deploy with something to
    do, or one that found another deploy holding the lock, then takes the lock, waiting for it. A lock index one past
    the one the plan saw proves no other deploy held it meanwhile, so the plan stands. Otherwise, and always after
    another deploy held it, the plan is made again under the lock. A deploy with nothing to do takes no lock.

    With ``lock_session`` (an auto-rollback redeploys under the failed deploy's lock), the lock is not looked at. It
    is renewed with that session, and the plan stands.

    Returns :func:`plan_once`'s result, with ``lock_taken`` (the lock this deploy holds: the acquire's result, ``{}``
    when none) and ``replanned``. They are kept in ``done`` as the steps end: a failed plan still names the session
    that holds the lock, so the role releases it.
    """
    done = {} if done is None else done
    session = options.get("lock_session") or ""
    done.update(lock_taken={"session": session} if session else {}, replanned=False)
    planned = plan_once(options, run, look_at_lock=not session)
    lock_seen = planned["lock"]
    if options.get("take_lock") and not options["check_mode"] and (planned["needed"] or lock_seen.get("held")):
        lock_args = {"stack": options["stack"], "state": "acquired", "ttl": options["lock_ttl"],
                     "wait_timeout": options["lock_wait_timeout"], "holder": options["lock_holder"]}
        if session:
            lock_args["session"] = session
        waited = "renewing the deploy lock" if session else "taking the deploy lock (waiting for another deploy)"
        done["lock_taken"] = run(waited, "consul_lock", lock_args, predicting=False)
        if lock_seen and (lock_seen.get("held")
                          or done["lock_taken"].get("lock_index") != (lock_seen.get("lock_index") or 0) + 1):
            done["replanned"] = True
            # The lock as the plan saw it, and the deploy's start (its total counts the wait) stay the first plan's.
            planned = dict(plan_once(options, run, look_at_lock=False), lock=lock_seen, started=planned["started"],
                           start_stamp=planned["start_stamp"])
    done.update(planned)
    return done


def plan_once(options, run, look_at_lock=True):
    """The plan of a deploy of ``options['stack']``, reading only.

    Returns what the role keeps: each module's result (``lock``, ``history``, ``archive``, ``fleet_units``, ``prune``),
    the chain (``final``, ``names``, ``version``), what each unit needs (``plan``, ``changes``), what the prune keeps
    (``keep``) and whether anything is to be done (``needed``). A service with ``instances`` or rolling mode
    ``per_machine`` has its service unit expanded into its instances (``final``) and its rolling settings checked
    (``roll``) before anything is read.
    """
    stack, kind = options["stack"], options["kind"]
    global_stack = kind == "global"
    units = list(options["units"])
    roll = {}
    if has_instances(kind, options["instances"], options["rolling"]):
        roll = rolling_settings(options["instances"], options["rolling"])

    lock = {}
    if look_at_lock:
        lock = run("looking at the deploy lock", "consul_lock", {"stack": stack, "state": "acquired"})
    history = run("reading the deploy history", "consul_history_info", {"stack": stack})
    archive = {"skipped": True, "changed": False}
    if options["files"]:
        archive = run("predicting the file archive", "consul_archive", {"stack": stack, "files": options["files"]})
    # One read of fleet's units for the whole chain (a service or standalone stack's units all start with its name).
    fleet_units = run("reading the units fleet knows", "fleet_unit_info", {"prefix": "" if global_stack else stack})
    if roll:
        units = expand_instances(stack, str(options["version"]), units, roll, int(options["instances"] or 0),
                                 fleet_units.get("machines") or [])

    final = chain_units(kind, stack, units, None if archive.get("skipped") else archive,
                        options["dependencies"])
    names = [unit["fleet_name"] for unit in final]
    version = str(options["version"] or "") or _content_version(final)
    plan = stack_redeploy_plan(names, stack_unit_operations(final, fleet_units.get("units") or []))
    keep = stack_keep_units(history.get("history") or [], names, options["keep_versions"], version)

    prune = run("predicting what the prune removes", "fleet_prune",
                prune_arguments(stack, kind, keep, options["max_remove"]))

    changes = [step for step in plan if step["action"] != "keep"]
    needed = bool(changes or prune.get("would_remove") or archive.get("changed")
                  or history.get("current") != version or options["rolling_back"])

    # Nothing to deploy, and no other deploy at work: the running version must pass in Consul (the one read that
    # waits, so not in check mode). A deploy checks it after its launch instead, and another deploy's holder will.
    verified = {}
    instances = sum(1 for unit in final if "instance" in unit)
    if options["verify_consul"] and not needed and not lock.get("held") and not options["check_mode"]:
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
        # What fleet_chain launches (a service's instances are rolled batch by batch instead), and how many
        # instances there are: the role's tasks use them as they are, without templating a loop over the units.
        "launch": [{"name": unit["fleet_name"], "content": unit["content"]} for unit in final if "instance" not in unit],
        "instances": instances,
        "names": names,
        "version": version,
        "plan": plan,
        "keep": keep,
        "changes": changes,
        "needed": needed,
        "verified": verified,
        "roll": roll,
        # The report's start, as now(utc=true) gives it (naive UTC), and the clock its total is measured against.
        "started": datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None).isoformat(),
        "start_stamp": time.time(),
    }
