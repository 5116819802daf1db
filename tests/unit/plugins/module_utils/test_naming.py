# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.houston.stack.plugins.module_utils import _naming as n


@pytest.mark.parametrize("name", ["example", "a", "web.v1", "A_b-c.9", "7b7d061b", "x" * 64])
def test_valid_names(name):
    assert n.validate_stack(name) == name
    assert n.validate_version(name) == name


@pytest.mark.parametrize("name, why", [
    ("", "non-empty"),
    (None, "non-empty"),
    ("x" * 65, "at most 64"),
    ("-web", "starting with a letter or digit"),
    (".web", "starting with a letter or digit"),
    ("a..b", "must not contain '..'"),
    ("a@b", "invalid"),
    ("a/b", "invalid"),
    ("a b", "invalid"),
    ("a;rm", "invalid"),
    ("a$b", "invalid"),
    ("é", "invalid"),
])
def test_invalid_names_say_why(name, why):
    with pytest.raises(n.InvalidName, match=why.replace("(", r"\(")):
        n.validate_version(name)


def test_unit_names():
    assert n.unit_name("example", "pgbouncer", "f20fb494") == "example-pgbouncer@f20fb494.service"
    assert n.service_unit_name("example", "v1") == "example@v1.service"
    assert n.global_unit_name("consul-agent") == "consul-agent@latest.service"
    assert n.global_unit_name("consul-agent", "v2") == "consul-agent@v2.service"
    assert n.archive_unit_name("example", "ABCDEF0123456789" * 4) == "example-file-deploy@abcdef01.service"
    assert n.archive_unit_name("global", "abcdef0123456789", is_global=True) == "global-file-deploy@abcdef01.service"
    with pytest.raises(n.InvalidName):
        n.unit_name("example", "pg bouncer", "v1")
    with pytest.raises(n.InvalidName, match="not a hex sha256"):
        n.archive_unit_name("example", "xyz")


@pytest.mark.parametrize("name, result", [
    ("example-file-deploy@0a1b2c3d.service", True),
    ("global-file-deploy@abcdef01.service", True),
    ("my.stack_2-file-deploy@12345678.service", True),
    ("example-file-deploy@0A1B2C3D.service", False),    # archive_unit_name lowercases the checksum
    ("example-file-deploy@0a1b2c3.service", False),     # 7 hex digits
    ("example-file-deploy@0a1b2c3d4.service", False),   # 9 hex digits
    ("example-file-deploy@0a1b2c3g.service", False),    # not hex
    ("example-file-deploy@v1.service", False),
    ("example-file-deploy@0a1b2c3d.timer", False),
    ("example-file-deploy@0a1b2c3d.service.bak", False),
    ("example-file-deploy.service", False),
    ("example-file-deploy@.service", False),
    ("example@0a1b2c3d.service", False),
    ("example-web@0a1b2c3d.service", False),
    ("example-filedeploy@0a1b2c3d.service", False),
    ("file-deploy@0a1b2c3d.service", False),            # no stack before it
    ("", False),
    (None, False),
])
def test_is_archive_unit(name, result):
    assert n.is_archive_unit(name) is result


@pytest.mark.parametrize("stack", ["example", "global", "a.b_c-d"])
def test_is_archive_unit_knows_the_names_the_collection_builds(stack):
    for sha in ("0a1b2c3d" * 8, "ABCDEF0123456789" * 4, "deadbeef"):
        assert n.is_archive_unit(n.archive_unit_name(stack, sha, is_global=stack == "global"))
    for version in ("v1", "latest", "1.2.3", "f20fb494x"):
        assert not n.is_archive_unit(n.unit_name(stack, "web", version))
        assert not n.is_archive_unit(n.service_unit_name(stack, version))
    assert not n.is_archive_unit(n.global_unit_name("consul-agent"))


def test_marker_round_trip():
    options = n.marker_options("example", "v1")
    assert options == [
        {"section": "X-Houston", "name": "Stack", "value": "example"},
        {"section": "X-Houston", "name": "Version", "value": "v1"},
        {"section": "X-Houston", "name": "Owner", "value": "houston.stack"},
    ]
    assert n.marker_text("example", "v1") == "[X-Houston]\nStack=example\nVersion=v1\nOwner=houston.stack\n"
    assert n.read_marker(options) == {"stack": "example", "version": "v1", "owner": "houston.stack"}
    assert n.is_owned(options, "example")
    assert not n.is_owned(options, "other")
    assert not n.is_owned([dict(o, value="someone") if o["name"] == "Owner" else o for o in options], "example")
    assert n.read_marker([{"section": "Service", "name": "ExecStart", "value": "x"}]) is None


@pytest.mark.parametrize("name, stack, result", [
    ("example@v1.service", "example", True),
    ("example-web@v1.service", "example", True),
    ("example-file-deploy@abcd1234.service", "example", True),
    ("example2@v1.service", "example", False),
    ("example-web.service", "example", False),
    ("examplex-web@v1.service", "example", False),
    ("other-example@v1.service", "example", False),
])
def test_belongs_to_stack(name, stack, result):
    assert n.belongs_to_stack(name, stack) is result


def test_split_unit_name():
    assert n.split_unit_name("example-web@v1.2.service") == ("example-web", "v1.2", "service")
    assert n.split_unit_name("plain.service") == ("plain", None, "service")
    assert n.unit_version("a@.service") == ""
