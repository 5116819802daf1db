# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Consul client helpers that need no server: addresses, health evaluation, argspec."""

from __future__ import annotations

import pytest

from ansible_collections.houston.stack.plugins.module_utils import _consul as C


@pytest.mark.parametrize("address, ssl, url", [
    ("127.0.0.1:8500", False, "http://127.0.0.1:8500"),
    ("127.0.0.1:8501", True, "https://127.0.0.1:8501"),
    ("https://consul:8501/", False, "https://consul:8501"),
    ("http://c:8500", True, "http://c:8500"),
    ("", False, "http://127.0.0.1:8500"),
])
def test_base_url(address, ssl, url):
    assert C.base_url(address, ssl=ssl) == url


def test_consul_http_ssl_env_selects_https(monkeypatch):
    monkeypatch.setenv("CONSUL_HTTP_SSL", "true")
    assert C.base_url("c:8501") == "https://c:8501"
    monkeypatch.setenv("CONSUL_HTTP_SSL", "false")
    assert C.base_url("c:8500") == "http://c:8500"


def test_argspec_token_is_no_log_and_every_option_has_an_env_fallback_or_default():
    spec = C.CONSUL_ARGSPEC
    assert spec["consul_token"]["no_log"] is True
    assert spec["consul_token"]["fallback"][1] == ["CONSUL_HTTP_TOKEN"]
    assert spec["consul_address"]["fallback"][1] == ["CONSUL_HTTP_ADDR"]
    assert spec["consul_validate_certs"]["default"] is True
    assert all("type" in option for option in spec.values())


def test_token_travels_in_a_header_only():
    client = C.ConsulClient("127.0.0.1:1", token="s3cret")
    assert client.transport.headers == {"X-Consul-Token": "s3cret"}
    assert "s3cret" not in client.url and "s3cret" not in client._path("/kv/x", {"cas": 0})


def health(node, address, statuses, service_address="", tags=("v1",)):
    return {"Node": {"Node": node, "Address": address},
            "Service": {"ID": f"web-{node}", "Service": "web", "Tags": list(tags), "Address": service_address},
            "Checks": [{"Name": f"check {i}", "CheckID": f"c{i}", "Status": s, "Output": f"out {s}"}
                       for i, s in enumerate(statuses)]}


@pytest.mark.parametrize("statuses, status", [
    (["passing", "passing"], "passing"), (["passing", "warning"], "warning"), (["warning", "critical"], "critical"),
    ([], "passing"),
])
def test_instance_status(statuses, status):
    assert C.instance_status([{"Status": s} for s in statuses]) == status


ENTRIES = [health("m2", "10.0.0.12", ["passing", "critical"]), health("m1", "10.0.0.11", ["passing", "passing"]),
           health("m3", "10.0.0.13", ["passing"], service_address="10.9.9.9")]


def test_instances_use_the_service_address_else_the_node_address_sorted():
    instances = C.instances_from_health(ENTRIES)
    assert [(i["node"], i["address"], i["status"]) for i in instances] == [
        ("m1", "10.0.0.11", "passing"), ("m2", "10.0.0.12", "critical"), ("m3", "10.9.9.9", "passing")]


@pytest.mark.parametrize("expected, min_passing, ok, missing", [
    (["10.0.0.11"], 1, True, []),
    (["10.0.0.11", "10.0.0.12"], 1, False, ["10.0.0.12"]),
    (["10.0.0.14"], 1, False, ["10.0.0.14"]),
    (None, 2, True, []),
    (None, 3, False, []),
])
def test_evaluate(expected, min_passing, ok, missing):
    assert C.evaluate_instances(C.instances_from_health(ENTRIES), expected, min_passing) == (ok, missing)


def test_describe_names_node_address_and_failing_check_output():
    lines = C.describe_instances(C.instances_from_health(ENTRIES))
    assert lines[1] == "m2 10.0.0.12 web-m2: critical (check 1 critical: out critical)"
    assert lines[0] == "m1 10.0.0.11 web-m1: passing"


def test_subtree_delete_needs_a_trailing_slash():
    with pytest.raises(C.ConsulError, match="must end with '/'"):
        C.ConsulClient("127.0.0.1:1").kv_delete("houston/a", recurse=True)
