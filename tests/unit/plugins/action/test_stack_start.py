# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""houston.stack.stack_start's logic: the modules it runs (with which arguments, in which order) and what a failed
archive leaves for the rescue. The answers here are what the modules return; the role's integration tests run it on
the lab."""
from __future__ import annotations

import pytest

from ansible_collections.houston.stack.plugins.plugin_utils import _stack_start as ss
from ansible_collections.houston.stack.plugins.plugin_utils._module_steps import StepError
from tests.unit.plugins.action.module_answers import ModuleAnswers

UNITS = ["shop-file-deploy@0a1b2c3d.service", "shop@v2.service"]
FILES = [{"path": "/opt/shop/etc/shop.conf", "content": "port = 8080\n"}]


class Modules(ModuleAnswers):
    ANSWERS = {
        "consul_history": {"changed": True, "entry": {"id": "9", "result": "running"}},
        "consul_archive": {"changed": True, "sha256": "0a1b2c3d" + "e" * 56, "chunks": 1},
        "fleet_unit": {"changed": True},
    }


def start(modules, done=None, **options):
    options = {"stack": "shop", "version": "v2", "units": UNITS, "archive": "0a1b2c3d" + "e" * 56, "files": FILES,
               "protect": ["0a1b2c3d", "99887766"], "restart": [], "wait_timeout": 30, **options}
    return ss.start_stack(options, modules, done=done)


def test_records_the_start_then_stores_the_archive():
    modules = Modules()
    done = start(modules)
    assert [(module, args) for _step, module, args in modules.calls] == [
        ("consul_history", {"stack": "shop", "version": "v2", "action": "start", "units": UNITS,
                            "archive": "0a1b2c3d" + "e" * 56}),
        ("consul_archive", {"stack": "shop", "files": FILES, "protect": ["0a1b2c3d", "99887766"]}),
    ]
    assert done["history"]["entry"]["id"] == "9" and done["archive"]["chunks"] == 1


def test_without_files_there_is_no_archive_to_store_or_record():
    modules = Modules()
    done = start(modules, files=[], archive=None)
    assert modules.modules() == ["consul_history"]
    assert "archive" not in modules.calls[0][2] and done["archive"]["skipped"]


def test_a_failed_archive_keeps_the_recorded_start_for_the_rescue():
    modules = Modules(consul_archive=StepError("start of the deploy of stack shop, storing the file archive: 413"))
    done = {}
    with pytest.raises(StepError, match="storing the file archive: 413"):
        start(modules, done=done)
    assert done["history"]["entry"]["id"] == "9" and done["archive"]["skipped"]


def test_a_failed_start_record_stores_no_archive():
    modules = Modules(consul_history=StepError("start of the deploy of stack shop, recording the start: 403"))
    with pytest.raises(StepError, match="recording the start: 403"):
        start(modules)
    assert modules.modules() == ["consul_history"]


def test_units_to_restart_are_stopped_last_first_after_the_archive():
    restart = [{"fleet_name": "shop-web@v2.service", "content": "[Service]\nExecStart=/bin/web\n", "version": "v2"},
               {"fleet_name": "shop@v2.service", "content": "[Service]\nExecStart=/bin/shop\n", "version": "v2"}]
    modules = Modules()
    done = start(modules, restart=restart)
    assert modules.modules() == ["consul_history", "consul_archive", "fleet_unit", "fleet_unit"]
    assert modules.all_args("fleet_unit") == [
        {"name": "shop@v2.service", "content": "[Service]\nExecStart=/bin/shop\n", "state": "loaded", "wait": True,
         "wait_timeout": 30},
        {"name": "shop-web@v2.service", "content": "[Service]\nExecStart=/bin/web\n", "state": "loaded",
         "wait": True, "wait_timeout": 30},
    ]
    assert done["stopped"]["changed"] is True and len(done["stopped"]["units"]) == 2


def test_a_unit_that_does_not_stop_fails_the_start_naming_it():
    restart = [{"fleet_name": "shop@v2.service", "content": "[Service]\nExecStart=/bin/shop\n"}]
    failure = StepError("start of the deploy of stack shop, stopping shop@v2.service, which restarts after a "
                        "replaced unit (houston.stack.fleet_unit): timed out")
    done = {}
    with pytest.raises(StepError, match="stopping shop@v2.service"):
        start(Modules(fleet_unit=failure), done=done, restart=restart)
    assert done["history"]["entry"]["id"] == "9" and done["stopped"] == {"changed": False, "units": []}
