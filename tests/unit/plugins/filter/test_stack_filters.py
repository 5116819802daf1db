# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.houston.stack.plugins.filter import stack as f


@pytest.mark.parametrize("entry, expected", [
    ("memcached", ("memcached", None, [])),
    ("memcached:1.4.24", ("memcached", "1.4.24", [])),
    ("newrelic-sysmond:2.1.0.124[environment:prod-us-east-1]", ("newrelic-sysmond", "2.1.0.124", ["prod-us-east-1"])),
    ("nginx[environment:a,environment:b]", ("nginx", None, ["a", "b"])),
    ({"name": "web", "version": 3, "environment": "lab"}, ("web", "3", ["lab"])),
])
def test_unit_entry_parses_houston_syntax_and_mappings(entry, expected):
    parsed = f.unit_entry(entry)
    assert (parsed["name"], parsed["version"], parsed["environments"]) == expected


@pytest.mark.parametrize("entry, words", [
    ("bad name", "is not of the form"),
    ("web:v1/2", "version"),
    ({"name": "web", "template": "a", "content": "b"}, "mutually exclusive"),
    ({"version": "1"}, "needs 'name'"),
    ({"name": "web", "colour": "red"}, "colour"),
    (3, "expected a string or a mapping"),
])
def test_unit_entry_rejects_bad_entries_naming_the_problem(entry, words):
    with pytest.raises(AnsibleFilterError, match=words):
        f.unit_entry(entry, "units[0]")


def test_stack_units_names_per_kind_and_filters_environments():
    entries = ["cache", "nginx:1.9", "newrelic:2[environment:prod]"]
    service = f.stack_units(entries, "example", "service", "v7", "lab")
    assert [u["fleet_name"] for u in service] == ["example-cache@v7.service", "example-nginx@1.9.service"]
    standalone = f.stack_units(entries, "redis", "standalone", None, "prod")
    assert [u["fleet_name"] for u in standalone] == ["redis-cache@latest.service", "redis-nginx@1.9.service",
                                                     "redis-newrelic@2.service"]
    assert [u["fleet_name"] for u in f.stack_units(["consul:v1", "fluentd"], "global", "global")] == [
        "consul@v1.service", "fluentd@latest.service"]


def test_stack_units_rejects_duplicates_and_bad_versions():
    with pytest.raises(AnsibleFilterError, match="listed twice"):
        f.stack_units(["cache", "cache"], "example", "service", "v1")
    with pytest.raises(AnsibleFilterError, match="version"):
        f.stack_units(["cache"], "example", "service", "v 1")
    with pytest.raises(AnsibleFilterError, match="needs a version"):
        f.stack_units(["cache"], "example", "service", "")


def test_stack_units_refuse_the_name_of_the_file_archive_unit():
    with pytest.raises(AnsibleFilterError, match="'example-file-deploy@f20fb494.service', the name of the stack's file archive unit"):
        f.stack_units(["file-deploy"], "example", "service", "f20fb494")
    assert [u["fleet_name"] for u in f.stack_units(["file-deploy"], "example", "service", "v1")] == ["example-file-deploy@v1.service"]


def test_unit_require_injects_after_description_once():
    text = "[Unit]\nDescription=x\nWants=y.service\n\n[Service]\nExecStart=/bin/true\n"
    out = f.unit_require(text, "a@1.service")
    assert out.splitlines()[:4] == ["[Unit]", "Description=x", "Requires=a@1.service", "After=a@1.service"]
    assert f.unit_require(out, "a@1.service") == out
    assert f.unit_require("[Service]\nExecStart=/bin/true\n", "a@1.service").startswith(
        "[Unit]\nRequires=a@1.service\nAfter=a@1.service\n[Service]")


def test_stack_chain_chains_and_marks():
    chain = f.stack_chain([
        {"fleet_name": "s-file-deploy@abcdef12.service", "version": "abcdef12", "text": "[Service]\nType=oneshot\n",
         "marker": False},
        {"fleet_name": "s-cache@v1.service", "version": "v1", "text": "[Unit]\nDescription=c\n[Service]\nExecStart=/bin/c\n"},
    ], "s")
    assert "X-Houston" not in chain[0]["content"]
    assert "Requires=s-file-deploy@abcdef12.service" in chain[1]["content"]
    assert chain[1]["content"].endswith("[X-Houston]\nStack=s\nVersion=v1\nOwner=houston.stack\n")


def test_redeploy_plan_restarts_units_below_a_replaced_one():
    plan = f.stack_redeploy_plan(["a", "b", "c", "d"], ["none", "replaced", "none", "none"])
    assert [(p["name"], p["action"]) for p in plan] == [("a", "keep"), ("b", "replace"), ("c", "restart"), ("d", "restart")]
    assert [p["action"] for p in f.stack_redeploy_plan(["a", "b"], ["created", "created"])] == ["create", "create"]


def test_keep_units_keeps_previous_successful_versions_only():
    history = [
        {"version": "v4", "result": "failed", "units": ["x@v4"]},
        {"version": "v3", "result": "success", "units": ["x@v3", "shared@1"]},
        {"version": "v2", "result": "success", "units": ["x@v2"]},
    ]
    assert f.stack_keep_units(history, ["x@v5", "shared@1"], 1, "v5") == ["x@v5", "shared@1", "x@v3"]
    assert f.stack_keep_units(history, ["x@v5"], 0, "v5") == ["x@v5"]
    assert f.stack_keep_units(history, ["x@v3"], 1, "v3") == ["x@v3", "x@v2"]


def _fleet_unit(name, version, ips, stack="shop", owner="houston.stack"):
    marker = {"stack": stack, "version": version, "owner": owner} if owner else None
    return {"name": name, "marker": marker, "desired_state": "launched", "current_state": None,
            "machines": [{"machine_id": f"m-{ip}", "ip": ip, "load_state": "loaded", "active_state": "active",
                          "sub_state": "running"} for ip in ips]}


# The plan read: v1 on both machines, an older v0 on .12, the archive unit, a unit of another stack and one without
# the collection's marker. The deploy launches v2 (on .11 and .12 once active) and prunes v0.
PLAN_READ = [
    _fleet_unit("shop-cache@v1.service", "v1", ["10.0.0.11", "10.0.0.12"]),
    _fleet_unit("shop@v0.service", "v0", ["10.0.0.12"]),
    _fleet_unit("shop-file-deploy@0a1b2c3d.service", "0a1b2c3d", ["10.0.0.11"]),
    _fleet_unit("other@v9.service", "v9", ["10.0.0.11"], stack="other"),
    _fleet_unit("shop-manual@v5.service", "v5", ["10.0.0.13"], owner=None),
]
FINAL = [{"fleet_name": "shop-file-deploy@0a1b2c3d.service", "version": "0a1b2c3d", "archive": True},
         {"fleet_name": "shop-cache@v2.service", "version": "v2"}, {"fleet_name": "shop@v2.service", "version": "v2"}]
LAUNCHED = [{"name": "shop-file-deploy@0a1b2c3d.service", "ips": ["10.0.0.11", "10.0.0.12"]},
            {"name": "shop-cache@v2.service", "ips": ["10.0.0.11", "10.0.0.12"]},
            {"name": "shop@v2.service", "ips": ["10.0.0.12"]}]


@pytest.mark.parametrize("launched, pruned, expected", [
    ([], [], {"10.0.0.11": ["v1"], "10.0.0.12": ["v1", "v0"]}),
    (LAUNCHED, None, {"10.0.0.11": ["v1", "v2"], "10.0.0.12": ["v1", "v2", "v0"]}),
    (LAUNCHED, ["shop@v0.service", "shop-cache@v1.service"], {"10.0.0.11": ["v2"], "10.0.0.12": ["v2"]}),
], ids=["nothing deployed: the plan's read as it is", "v2 launched, nothing pruned", "v2 launched, v0 and v1 pruned"])
def test_report_versions_after_a_deploy(launched, pruned, expected):
    assert f.stack_report_versions(PLAN_READ, "shop", launched=launched, final=FINAL, pruned=pruned) == expected


def test_report_versions_agree_with_a_read_after_the_deploy():
    """What a fleet_unit_info read after the deploy would give, through stack_versions_by_machine."""
    after = [_fleet_unit("shop-cache@v1.service", "v1", ["10.0.0.11", "10.0.0.12"]),
             _fleet_unit("shop-cache@v2.service", "v2", ["10.0.0.11", "10.0.0.12"]),
             _fleet_unit("shop@v2.service", "v2", ["10.0.0.12"]),
             _fleet_unit("shop-file-deploy@0a1b2c3d.service", "0a1b2c3d", ["10.0.0.11", "10.0.0.12"])]
    read = f.stack_versions_by_machine(f.stack_status_rows(u for u in after if "file-deploy" not in u["name"]))
    assert f.stack_report_versions(PLAN_READ, "shop", launched=LAUNCHED, final=FINAL, pruned=["shop@v0.service"]) == read
