# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""houston.stack.stack_plan's logic: the modules it runs (with which arguments, in which order) and the plan it builds
from their answers. The answers here are what the modules return; the role's integration tests run it on the lab."""
from __future__ import annotations

import hashlib

import pytest
from ansible.errors import AnsibleError, AnsibleFilterError

from ansible_collections.houston.stack.plugins.module_utils import _unitfile
from ansible_collections.houston.stack.plugins.plugin_utils import _stack_plan as sp
from ansible_collections.houston.stack.plugins.plugin_utils._module_steps import StepError
from tests.unit.plugins.action.module_answers import ModuleAnswers

CACHE = "[Unit]\nDescription=cache\n\n[Service]\nExecStart=/bin/cache\n"
APP = "[Unit]\nDescription=app\n\n[Service]\nExecStart=/bin/app\n"
ARCHIVE_UNIT = "[Unit]\nDescription=files\n\n[Service]\nType=oneshot\nExecStart=/bin/extract\n"
SHA = "0a1b2c3d" + "e" * 56


def rendered(version="v2"):
    return [{"unit": "cache", "version": version, "fleet_name": f"shop-cache@{version}.service", "text": CACHE},
            {"unit": "shop", "version": version, "fleet_name": f"shop@{version}.service", "text": APP, "service": True}]


class Modules(ModuleAnswers):
    """The modules' answers by name, and the calls the plan made (step, module, arguments)."""

    ANSWERS = {
        "consul_lock": {"held": False, "lock_index": 4},
        "consul_history_info": {"history": [], "current": None},
        "consul_archive": {"changed": True, "sha256": SHA, "unit_name": f"shop-file-deploy@{SHA[:8]}.service",
                           "unit_content": ARCHIVE_UNIT},
        "fleet_unit_info": {"units": []},
        "fleet_prune": {"would_remove": []},
    }


def plan(modules, done=None, **options):
    options = {"stack": "shop", "kind": "service", "version": "v2", "units": rendered(), "files": [{"path": "/f"}],
               "dependencies": True, "keep_versions": 1, "max_remove": 50, "rolling_back": False,
               "take_lock": False, "lock_session": None, "lock_ttl": 30, "lock_wait_timeout": 60,
               "lock_holder": {}, "verify_consul": False, "consul_service": "shop", "consul_wait_timeout": 60,
               "check_mode": False, "instances": 0, "rolling": {}, **options}
    return sp.plan_stack(options, modules, done)


def launched(final, state="launched"):
    """fleet_unit_info's units for a chain fleet already runs as planned."""
    return [{"name": u["fleet_name"], "options": _unitfile.parse(u["content"]), "desired_state": state} for u in final]


def test_cold_deploy_creates_the_chain_archive_first():
    modules = Modules()
    result = plan(modules)
    assert modules.modules() == ["consul_lock", "consul_history_info", "consul_archive", "fleet_unit_info", "fleet_prune"]
    assert result["names"] == [f"shop-file-deploy@{SHA[:8]}.service", "shop-cache@v2.service", "shop@v2.service"]
    assert [step["action"] for step in result["plan"]] == ["create", "create", "create"]
    assert result["changes"] == result["plan"] and result["needed"] is True
    assert result["launch"] == [{"name": unit["fleet_name"], "content": unit["content"]} for unit in result["final"]]
    assert result["instances"] == 0
    assert result["version"] == "v2"
    # each unit requires the one before it and carries the stack's marker, except the archive unit
    cache = result["final"][1]["content"]
    assert f"Requires=shop-file-deploy@{SHA[:8]}.service" in cache and "[X-Houston]" in cache
    assert "[X-Houston]" not in result["final"][0]["content"]
    assert modules.args("fleet_unit_info") == {"prefix": "shop"}
    assert modules.args("consul_lock") == {"stack": "shop", "state": "acquired"}
    assert modules.args("fleet_prune") == {"stack": "shop", "keep": result["names"], "keep_versions": 0, "max_remove": 50}
    assert modules.args("consul_archive") == {"stack": "shop", "files": [{"path": "/f"}]}


def test_redeploy_of_what_runs_has_nothing_to_do():
    final = plan(Modules())["final"]
    modules = Modules(consul_history_info={"history": [], "current": "v2"}, fleet_unit_info={"units": launched(final)},
                      consul_archive=dict(Modules().answers["consul_archive"], changed=False))
    result = plan(modules)
    assert [step["action"] for step in result["plan"]] == ["keep", "keep", "keep"]
    assert result["changes"] == [] and result["needed"] is False


def nothing_to_do(**answers):
    """The modules' answers when fleet already runs v2 as planned and the history names it."""
    final = plan(Modules())["final"]
    return Modules(consul_history_info={"history": [], "current": "v2"}, fleet_unit_info={"units": launched(final)},
                   consul_archive=dict(Modules().answers["consul_archive"], changed=False),
                   **{"consul_service_wait": {"passing": 1}, **answers})


def test_nothing_to_do_verifies_the_running_version_in_consul_for_real():
    modules = nothing_to_do()
    result = plan(modules, verify_consul=True)
    assert modules.modules()[-1] == "consul_service_wait"
    assert modules.args("consul_service_wait") == {"service": "shop", "tag": "v2", "min_passing": 1,
                                                   "wait_timeout": 60}
    # the one step that waits runs outside check mode; the others are predictions
    assert modules.predicting["consul_service_wait"] is False and modules.predicting["fleet_prune"] is None
    assert result["verified"] == {"passing": 1} and result["needed"] is False


@pytest.mark.parametrize("why, modules, options", [
    ("verify_consul is off", nothing_to_do, {}),
    ("check mode", nothing_to_do, {"verify_consul": True, "check_mode": True}),
    ("another deploy holds the lock", lambda: nothing_to_do(consul_lock={"held": True, "lock_index": 4}),
     {"verify_consul": True}),
    ("there is something to deploy", Modules, {"verify_consul": True}),
], ids=lambda value: value if isinstance(value, str) else "")
def test_no_verification(why, modules, options):
    del why
    answers = modules()
    result = plan(answers, **options)
    assert "consul_service_wait" not in answers.modules() and result["verified"] == {}


def test_a_failed_verification_fails_the_plan():
    failure = StepError("plan of stack shop, verifying the service in Consul (nothing to deploy): 0 of 1 passing")
    with pytest.raises(StepError, match="0 of 1 passing"):
        plan(nothing_to_do(consul_service_wait=failure), verify_consul=True)


@pytest.mark.parametrize("why, answers, options", [
    ("the history names another version", {"consul_history_info": {"history": [], "current": "v1"}}, {}),
    ("the archive changed", {"archive_changed": True}, {}),
    ("the prune removes a unit", {"fleet_prune": {"would_remove": ["shop@v0.service"]}}, {}),
    ("an auto-rollback redeploys", {}, {"rolling_back": True}),
    ("a unit is loaded, not launched", {"state": "loaded"}, {}),
], ids=lambda value: value if isinstance(value, str) else "")
def test_each_reason_to_deploy(why, answers, options):
    del why
    final = plan(Modules())["final"]
    archive = dict(Modules().answers["consul_archive"], changed=answers.pop("archive_changed", False))
    base = {"consul_history_info": {"history": [], "current": "v2"}, "consul_archive": archive,
            "fleet_unit_info": {"units": launched(final, answers.pop("state", "launched"))}}
    assert plan(Modules(**{**base, **answers}), **options)["needed"] is True


def test_replaced_unit_restarts_the_units_after_it():
    final = plan(Modules())["final"]
    known = launched(final)
    known[1]["options"] = _unitfile.parse(CACHE.replace("/bin/cache", "/bin/cache-old"))
    result = plan(Modules(fleet_unit_info={"units": known}))
    assert [step["action"] for step in result["plan"]] == ["keep", "replace", "restart"]


def test_global_stack_reads_every_unit_and_extracts_its_archive_last_unchained():
    archive = dict(Modules().answers["consul_archive"], unit_name=f"global-file-deploy@{SHA[:8]}.service")
    modules = Modules(consul_archive=archive)
    result = plan(modules, stack="global", kind="global", units=[
        {"unit": "consul", "version": "1", "fleet_name": "consul@1.service", "text": CACHE},
        {"unit": "registrator", "version": "2", "fleet_name": "registrator@2.service", "text": APP}])
    assert result["names"] == ["consul@1.service", "registrator@2.service", f"global-file-deploy@{SHA[:8]}.service"]
    assert "Requires=consul@1.service" in result["final"][1]["content"]
    assert "Requires=" not in result["final"][2]["content"]
    assert modules.args("fleet_unit_info") == {"prefix": ""}
    assert modules.args("fleet_prune")["prefix"] == ""


def test_without_version_the_content_names_it():
    result = plan(Modules(), version="", files=[])
    contents = "\n".join(unit["content"] for unit in result["final"])
    assert result["version"] == hashlib.sha1(contents.encode()).hexdigest()[:8]
    assert result["archive"] == {"skipped": True, "changed": False}


def test_no_files_no_archive():
    modules = Modules()
    result = plan(modules, files=[])
    assert modules.modules() == ["consul_lock", "consul_history_info", "fleet_unit_info", "fleet_prune"]
    assert result["names"] == ["shop-cache@v2.service", "shop@v2.service"]
    assert result["archive"] == {"skipped": True, "changed": False}


def test_keep_holds_the_units_of_the_versions_kept_for_rollback():
    history = [{"version": "v1", "result": "success", "units": ["shop-cache@v1.service", "shop@v1.service"]},
               {"version": "v0", "result": "success", "units": ["shop@v0.service"]}]
    modules = Modules(consul_history_info={"history": history, "current": "v1"})
    result = plan(modules, files=[], keep_versions=1)
    assert result["keep"] == ["shop-cache@v2.service", "shop@v2.service", "shop-cache@v1.service", "shop@v1.service"]
    assert modules.args("fleet_prune")["keep"] == result["keep"]


def test_a_failing_step_stops_the_plan():
    failure = StepError("plan of stack shop, reading the deploy history: connection refused")
    modules = Modules(consul_history_info=failure)
    with pytest.raises(StepError, match="reading the deploy history: connection refused"):
        plan(modules)
    assert modules.modules() == ["consul_lock", "consul_history_info"]


def test_an_invalid_unit_fails_before_the_prune_is_asked():
    modules = Modules()
    units = [{"unit": "bad", "version": "v2", "fleet_name": "shop-bad@v2.service", "text": "ExecStart=/bin/bad\n"}]
    with pytest.raises(AnsibleFilterError, match="shop-bad@v2.service"):
        plan(modules, units=units, files=[])
    assert "fleet_prune" not in modules.modules()


GLOBAL_APP = APP + "\n[X-Fleet]\nGlobal=true\n"
MACHINES = [{"id": "a1" * 16, "primaryIP": "10.0.0.11", "metadata": {}},
            {"id": "b2" * 16, "primaryIP": "10.0.0.12", "metadata": {}}]


def test_instances_replace_the_service_unit_in_the_chain():
    modules = Modules(fleet_unit_info={"units": [], "machines": MACHINES})
    result = plan(modules, instances=3, files=[])
    assert result["names"] == ["shop-cache@v2.service"] + [f"shop-instance-{i}@v2.service" for i in (1, 2, 3)]
    assert [unit.get("instance") for unit in result["final"]] == [None, "1", "2", "3"]
    assert "Conflicts=shop-instance-*@v2.service" in result["final"][1]["content"]
    assert result["roll"] == {"mode": "instances", "batch_size": 1, "max_unavailable": 1, "order": "start_first",
                              "rollback_on_failure": True}
    # fleet_chain launches the cache; the instances are rolled batch by batch
    assert result["launch"] == [{"name": "shop-cache@v2.service", "content": result["final"][0]["content"]}]
    assert result["instances"] == 3


def test_per_machine_rolling_pins_one_unit_to_each_machine_fleet_knows():
    units = [rendered()[0], dict(rendered()[1], text=GLOBAL_APP)]
    modules = Modules(fleet_unit_info={"units": [], "machines": MACHINES})
    rolling = {"mode": "per_machine", "batch_size": "2", "max_unavailable": 2}
    result = plan(modules, units=units, files=[], rolling=rolling)
    assert result["names"][1:] == [f"shop-machine-{'a1' * 4}@v2.service", f"shop-machine-{'b2' * 4}@v2.service"]
    assert f"MachineID={'a1' * 16}" in result["final"][1]["content"] and "Global=" not in result["final"][1]["content"]
    assert result["roll"]["batch_size"] == 2 and result["roll"]["mode"] == "per_machine"


def test_without_instances_there_are_no_rolling_settings():
    assert plan(Modules(), rolling={"batch_size": 2})["roll"] == {}
    assert plan(Modules(), kind="standalone", instances=2)["roll"] == {}


@pytest.mark.parametrize("instances, rolling, message", [
    (2, {"batch_size": 0}, "batch_size must be at least 1"),
    (2, {"order": "stop_first", "batch_size": 2, "max_unavailable": 1}, "order stop_first needs batch_size"),
    (2, {"mode": "per_machine"}, "cannot be combined with instances"),
    (2, {"order": "sideways"}, "order must be one of"),
    (2, {"batchsize": 2}, "batchsize"),
], ids=["batch-0", "stop-first-too-big", "per-machine-with-instances", "bad-order", "unknown-key"])
def test_invalid_rolling_settings_fail_before_anything_is_read(instances, rolling, message):
    modules = Modules()
    with pytest.raises(AnsibleError, match=message):
        plan(modules, instances=instances, rolling=rolling)
    assert modules.calls == []


LOOKED = {"held": False, "lock_index": 4}
TAKEN = {"session": "5e551011", "lock_index": 5, "waited": 0.0, "holder": {"user": "ops"}}
PLAN_MODULES = ["consul_history_info", "consul_archive", "fleet_unit_info", "fleet_prune"]


def test_a_deploy_with_something_to_do_takes_the_lock_after_the_plan():
    modules = Modules(consul_lock=(LOOKED, TAKEN))
    result = plan(modules, take_lock=True, lock_ttl=45, lock_wait_timeout=90, lock_holder={"version": "v2"})
    assert modules.modules() == ["consul_lock", *PLAN_MODULES, "consul_lock"]
    assert modules.all_args("consul_lock")[1] == {"stack": "shop", "state": "acquired", "ttl": 45, "wait_timeout": 90,
                                                  "holder": {"version": "v2"}}
    # the look is a prediction; taking the lock is not
    assert modules.calls[-1][0] == "taking the deploy lock (waiting for another deploy)"
    assert modules.predicting["consul_lock"] is False
    # the lock index is one past the one the plan saw: no other deploy held it in between, the plan stands
    assert result["lock_taken"] == TAKEN and result["replanned"] is False
    assert result["lock"] == LOOKED and result["needed"] is True


@pytest.mark.parametrize("why, modules, options", [
    ("nothing to do", nothing_to_do, {"take_lock": True}),
    ("check mode", Modules, {"take_lock": True, "check_mode": True}),
    ("take_lock is off", Modules, {}),
], ids=lambda value: value if isinstance(value, str) else "")
def test_no_lock_taken(why, modules, options):
    del why
    answers = modules()
    result = plan(answers, **options)
    assert answers.modules().count("consul_lock") == 1 and result["lock_taken"] == {}
    assert result["replanned"] is False


def test_another_deploy_in_between_makes_the_plan_again_under_the_lock(monkeypatch):
    first = plan(Modules())["final"]
    # Between the look and the acquire another deploy took and released the lock (index 4 -> 7) and deployed v2.
    modules = Modules(consul_lock=(LOOKED, dict(TAKEN, lock_index=7)),
                      consul_history_info=({"history": [], "current": None}, {"history": [], "current": "v2"}),
                      fleet_unit_info=({"units": []}, {"units": launched(first)}),
                      consul_archive=dict(Modules().answers["consul_archive"], changed=False))
    stamps = iter([100.0, 200.0])
    monkeypatch.setattr(sp.time, "time", lambda: next(stamps))
    result = plan(modules, take_lock=True)
    assert modules.modules() == ["consul_lock", *PLAN_MODULES, "consul_lock", *PLAN_MODULES]
    assert result["replanned"] is True and result["lock_taken"]["lock_index"] == 7
    # the plan under the lock is the one that counts: v2 runs now, nothing to do
    assert result["needed"] is False and result["changes"] == []
    # the lock as the plan saw it, and the deploy's start (its total counts the wait), stay the first plan's
    assert result["lock"] == LOOKED and result["start_stamp"] == 100.0


def test_a_held_lock_is_waited_for_then_the_plan_is_made_again_even_with_nothing_to_do():
    held = {"held": True, "lock_index": 4, "holder": {"user": "other-deployer"}}
    modules = nothing_to_do(consul_lock=(held, dict(TAKEN, waited=2.5)))
    result = plan(modules, take_lock=True, verify_consul=True)
    # the lock index alone (5, one past 4) would not do: the holder may have changed the stack as it released it
    assert modules.modules() == ["consul_lock", *PLAN_MODULES, "consul_lock", *PLAN_MODULES, "consul_service_wait"]
    assert result["replanned"] is True and result["lock_taken"]["waited"] == 2.5
    # with nothing to do under the lock, the running version is verified in Consul
    assert result["needed"] is False and result["verified"] == {"passing": 1}


def test_an_auto_rollback_renews_the_failed_deploys_lock_without_looking():
    modules = Modules(consul_lock=dict(TAKEN, session="f41led", lock_index=9))
    result = plan(modules, take_lock=True, rolling_back=True, lock_session="f41led")
    assert modules.modules() == [*PLAN_MODULES, "consul_lock"]
    assert modules.args("consul_lock")["session"] == "f41led"
    assert modules.calls[-1][0] == "renewing the deploy lock"
    assert result["lock"] == {} and result["replanned"] is False and result["lock_taken"]["session"] == "f41led"


def test_a_failed_plan_still_names_the_lock_it_took():
    failure = StepError("plan of stack shop, reading the deploy history: connection refused")
    modules = Modules(consul_lock=(LOOKED, dict(TAKEN, lock_index=8)),
                      consul_history_info=({"history": [], "current": None}, failure))
    done = {}
    with pytest.raises(StepError, match="connection refused"):
        plan(modules, done, files=[], take_lock=True)
    # the role's always: release reads it from the failed task's result
    assert done["lock_taken"]["session"] == TAKEN["session"]


def test_a_failed_auto_rollback_plan_still_names_the_failed_deploys_lock():
    failure = StepError("plan of stack shop, reading the deploy history: connection refused")
    done = {}
    with pytest.raises(StepError):
        plan(Modules(consul_history_info=failure), done, take_lock=True, rolling_back=True, lock_session="f41led")
    assert done["lock_taken"] == {"session": "f41led"}
