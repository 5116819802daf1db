# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""houston.stack.stack_finish's logic: the modules it runs (with which arguments, in which order), what it skips, and
what a failed step leaves undone. The answers here are what the modules return; the role's integration tests
(test_deploy_service.py, test_safety_deploys.py) run it on the lab."""
from __future__ import annotations

import pytest

from ansible_collections.houston.stack.plugins.plugin_utils import _stack_finish as sf
from ansible_collections.houston.stack.plugins.plugin_utils._module_steps import StepError
from tests.unit.plugins.action.module_answers import ModuleAnswers

KEEP = ["shop-cache@v2.service", "shop@v2.service", "shop@v1.service"]


class Modules(ModuleAnswers):
    ANSWERS = {
        "consul_service_wait": {"passing": 2, "elapsed": 0.1},
        "fleet_prune": {"changed": True, "removed": ["shop@v0.service"]},
        "consul_history": {"changed": True, "entry": {"id": "7", "result": "success"}},
        "consul_lock": {"changed": True, "key": "houston/shop/lock", "session": "s-1"},
    }


def finish(modules, check_mode=False, done=None, **options):
    options = {"stack": "shop", "kind": "service", "version": "v2", "wait_consul": True, "consul_service": "shop",
               "expected_addresses": ["10.0.0.1", "10.0.0.2"], "consul_wait_timeout": 60, "keep": KEEP,
               "max_remove": 50, "history_id": "7", "units": KEEP[:2], "archive": None, **options}
    return sf.finish_stack(options, modules, check_mode=check_mode, done=done)


def test_waits_then_prunes_then_records_with_the_deploys_values():
    modules = Modules()
    done = finish(modules, archive="ab" * 32)
    assert modules.modules() == ["consul_service_wait", "fleet_prune", "consul_history"]
    assert modules.args("consul_service_wait") == {"service": "shop", "tag": "v2", "wait_timeout": 60,
                                                   "expected_addresses": ["10.0.0.1", "10.0.0.2"]}
    assert modules.args("fleet_prune") == {"stack": "shop", "keep": KEEP, "keep_versions": 0, "max_remove": 50}
    assert modules.args("consul_history") == {"stack": "shop", "version": "v2", "action": "finish",
                                              "result": "success", "id": "7", "units": KEEP[:2], "archive": "ab" * 32}
    assert done["consul"]["passing"] == 2 and done["prune"]["removed"] == ["shop@v0.service"]
    assert done["history"]["entry"]["result"] == "success"


@pytest.mark.parametrize("options, wait, prune_prefix, history_keys", [
    ({"wait_consul": False}, False, None, {"id", "units"}),
    ({"kind": "global", "wait_consul": False}, False, "", {"id", "units"}),
    ({"history_id": None}, True, None, {"units"}),
    ({"history_id": "", "archive": "cd" * 32}, True, None, {"units", "archive"}),
], ids=["no-consul-wait", "global-prunes-without-prefix", "no-start-entry", "archive-recorded"])
def test_optional_steps_and_arguments(options, wait, prune_prefix, history_keys):
    modules = Modules()
    done = finish(modules, **options)
    assert ("consul_service_wait" in modules.modules()) is wait
    assert done["consul"].get("skipped", False) is not wait
    assert modules.args("fleet_prune").get("prefix") == prune_prefix
    history = modules.args("consul_history")
    assert set(history) - {"stack", "version", "action", "result"} == history_keys


def test_check_mode_predicts_the_prune_and_neither_waits_nor_records():
    modules = Modules(fleet_prune={"changed": True, "would_remove": ["shop@v0.service"]})
    done = finish(modules, check_mode=True)
    assert modules.modules() == ["fleet_prune"]
    assert done["consul"]["skipped"] and done["history"]["skipped"]
    assert done["prune"]["would_remove"] == ["shop@v0.service"]


@pytest.mark.parametrize("failing, ran, kept", [
    ("consul_service_wait", ["consul_service_wait"], {"consul": True, "prune": True, "history": True, "lock": True}),
    ("fleet_prune", ["consul_service_wait", "fleet_prune"],
     {"consul": False, "prune": True, "history": True, "lock": True}),
    ("consul_history", ["consul_service_wait", "fleet_prune", "consul_history"],
     {"consul": False, "prune": False, "history": True, "lock": True}),
], ids=["wait-fails-nothing-pruned-or-recorded", "prune-fails-nothing-recorded", "record-fails"])
def test_a_failed_step_stops_the_sequence_and_keeps_what_ran_before(failing, ran, kept):
    modules = Modules(**{failing: StepError(f"finish of the deploy of stack shop, {failing}: refused")})
    done = {}
    with pytest.raises(StepError, match=f"{failing}: refused"):
        finish(modules, done=done, lock_session="s-1")
    assert modules.modules() == ran
    # the steps that ended are in done; the failed one and those after it are still marked skipped
    assert {step: result.get("skipped", False) for step, result in done.items()} == kept


def test_the_lock_is_released_last_once_the_deploy_is_recorded():
    modules = Modules()
    done = finish(modules, lock_session="s-1")
    assert modules.modules() == ["consul_service_wait", "fleet_prune", "consul_history", "consul_lock"]
    assert modules.args("consul_lock") == {"stack": "shop", "state": "released", "session": "s-1"}
    assert done["lock"]["released"] is True and done["lock"]["key"] == "houston/shop/lock"


@pytest.mark.parametrize("check_mode, session", [(False, None), (False, ""), (True, "s-1")],
                         ids=["no-session", "empty-session", "check-mode"])
def test_no_session_or_check_mode_leaves_the_lock_alone(check_mode, session):
    modules = Modules(fleet_prune={"changed": True, "would_remove": []})
    done = finish(modules, check_mode=check_mode, lock_session=session)
    assert "consul_lock" not in modules.modules()
    assert done["lock"]["skipped"] and "released" not in done["lock"]


def test_a_failed_release_does_not_fail_the_recorded_deploy_and_says_why():
    modules = Modules(consul_lock=StepError("finish of the deploy of stack shop, releasing the deploy lock "
                                            "(houston.stack.consul_lock): Consul answered 500"))
    done = finish(modules, lock_session="s-1")
    assert done["history"]["entry"]["result"] == "success"
    assert done["lock"]["released"] is False and "Consul answered 500" in done["lock"]["msg"]
