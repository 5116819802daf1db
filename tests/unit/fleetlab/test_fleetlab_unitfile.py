# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit names, option validation, normalisation and the unit hash (reference sections 5 and 7)."""
from __future__ import annotations

import pytest

from lab.fleetlab.unitfile import (Requirements, go_path_match, normalize, parse_multivalue, serialize, unit_hash,
                                   validate_name, validate_options)

from fleetlab_support import opts

HASH_VECTORS = [
    (opts(("Service", "ExecStart", "/bin/sleep 100")), "1c6fb6f3684bafb0c173d8b8b957ceff031180c1"),
    (opts(("Service", "ExecStart", "/usr/bin/sleep 3000")), "248b997d6becee1b835b7ec7d9c8e68d7dd24623"),
    (opts(("Unit", "Description", "Hello"), ("Service", "ExecStart", "/bin/sleep 100")),
     "cf96eb9f64b04bb56ad64db2940dee7454c30f5b"),
    (opts(("Service", "ExecStart", "/bin/sleep 100"), ("X-Fleet", "Global", "true")), "a7ba2995412c497b67f550fd88cd51c390c2cf53"),
    (opts(("Unit", "Description", "  padded  "), ("Service", "ExecStart", "/bin/a"), ("Unit", "After", "b.service")),
     "95f56d3ec810f35f67ee7eb63437389fb9b23bca"),
    ([], "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
]


@pytest.mark.parametrize("options,expected", HASH_VECTORS)
def test_hash_vectors(options, expected):
    assert unit_hash(options) == expected


def test_hash_after_round_trip_vector():
    sent = opts(("Unit", "Description", "  padded  "), ("Service", "ExecStart", "/bin/a"), ("Unit", "After", "b.service"))
    stored = normalize(sent)
    assert [(o["section"], o["name"], o["value"]) for o in stored] == [
        ("Unit", "Description", "padded"), ("Unit", "After", "b.service"), ("Service", "ExecStart", "/bin/a")]
    assert unit_hash(stored) == "7bef7c37cea3e9345618b3f56499db82227ed053"


def test_serialize_text():
    assert serialize(opts(("Unit", "Description", "Hello"), ("Service", "ExecStart", "/bin/sleep 100"))) == \
        "[Unit]\nDescription=Hello\n\n[Service]\nExecStart=/bin/sleep 100\n"
    assert serialize([]) == ""


NAMES = [
    ("foo.service", None), ("foo@.service", None), ("foo@123.service", None), ("yo.yo.service", None),
    ("hello:world.service", None), ("yes@no\\.service", None), ("foo-bar.mount", None),
    ("a" * 248 + ".service", None),
    ("a" * 249 + ".service", "unit name exceeds maximum length (256)"),
    ("fooservice", 'unit name must contain "."'),
    ("foo.", 'unit name cannot end in "."'),
    ("foo.bar", 'invalid unit type: "bar"'),
    ("foo.servICE", 'invalid unit type: "servICE"'),
    ("foo@1.mount", 'invalid unit type for template: "mount"'),
    ("foo$x.service", "invalid character '$' in unit name"),
    ("foo x.service", "invalid character ' ' in unit name"),
    ("foo%x.service", "invalid character '%' in unit name"),
    ("foo+x.service", "invalid character '+' in unit name"),
    ("@foo.service", 'unit name cannot start in "@"'),
    ("", "unit name cannot be empty"),
]


@pytest.mark.parametrize("name,error", NAMES)
def test_validate_name(name, error):
    assert validate_name(name) == error


OPTION_ERRORS = [
    (opts(("Service", "ExecStart", "x" * 2040)), "line too long (max 2048 bytes)"),
    (opts(("Service", "ExecStart", "a\nb")), "unexpected newline encountered while parsing option name"),
    (opts(("X-Fleet", "MachineOf", "a.service"), ("X-Fleet", "Conflicts", "a*")),
     'unresolvable requirements: peer "a.service" matches conflict "a*"'),
    (opts(("X-Fleet", "MachineOf", "a.service"), ("X-Fleet", "Replaces", "a.service")),
     'unresolvable requirements: peer "a.service" matches replace "a.service"'),
    (opts(("X-Fleet", "MachineID", "abc"), ("X-Fleet", "MachineOf", "a.service")), "MachineID cannot be used with Peers"),
    (opts(("X-Fleet", "MachineID", "abc"), ("X-Fleet", "Conflicts", "b*")), "MachineID cannot be used with Conflicts"),
    (opts(("X-Fleet", "MachineID", "abc"), ("X-Fleet", "Global", "true")), "MachineID cannot be used with Global"),
    (opts(("X-Fleet", "MachineID", "abc"), ("X-Fleet", "Replaces", "b.service")), "MachineID cannot be used with Replaces"),
    (opts(("X-Fleet", "Global", "yes"), ("X-Fleet", "MachineOf", "a.service")), "Global cannot be used with Peers"),
    (opts(("X-Fleet", "Global", "1"), ("X-Fleet", "Replaces", "a.service")), "Global cannot be used with Replaces"),
    (opts(("X-Fleet", "Conflicts", "a*"), ("X-Fleet", "Replaces", "b.service")), "Conflicts cannot be used with Replaces"),
    (opts(("X-Fleet", "X-ConditionMachineBootID", "abc"), ("X-Fleet", "X-Conflicts", "b*")),
     "MachineID cannot be used with Conflicts"),
    # allowed combinations
    (opts(("X-Fleet", "Global", "true"), ("X-Fleet", "Conflicts", "a*")), None),
    (opts(("X-Fleet", "Global", "true"), ("X-Fleet", "MachineMetadata", "role=web")), None),
    (opts(("X-Fleet", "Global", "false"), ("X-Fleet", "MachineOf", "a.service")), None),
    (opts(("X-Fleet", "Global", "true"), ("X-Fleet", "Global", "off"), ("X-Fleet", "MachineOf", "a.service")), None),
    (opts(("X-Fleet", "Bogus", "whatever")), None),
    (opts(("Service", "ExecStart", "x" * 2030)), None),
]


@pytest.mark.parametrize("options,error", OPTION_ERRORS)
def test_validate_options(options, error):
    assert validate_options(options) == error


def test_multivalue_and_metadata_semantics():
    assert parse_multivalue('"a=b" "c=d"') == ["a=b", "c=d"]
    assert parse_multivalue("a=b c=d") == ["a=b c=d"]
    req = Requirements.from_options("x.service", opts(
        ("X-Fleet", "MachineMetadata", '"region=us-east-1" "disk=SSD"'),
        ("X-Fleet", "MachineMetadata", "region=us-west-1"),
        ("X-Fleet", "MachineMetadata", "bad"), ("X-Fleet", "MachineMetadata", "=v"), ("X-Fleet", "MachineMetadata", "a=b=c")))
    assert req.metadata == {"region": {"us-east-1", "us-west-1"}, "disk": {"SSD"}}
    assert req.metadata_matches({"region": "us-west-1", "disk": "SSD"})
    assert not req.metadata_matches({"region": "us-west-1"})
    assert not req.metadata_matches({"region": "eu", "disk": "SSD"})


def test_specifiers_expanded_when_scheduling():
    req = Requirements.from_options("web@3.service", opts(("X-Fleet", "Conflicts", "%p@*.service"),
                                                          ("X-Fleet", "MachineOf", "db@%i.service"),
                                                          ("X-Fleet", "MachineMetadata", "name=%N/%n")))
    assert req.conflicts == ["web@*.service"]
    assert req.peers == ["db@3.service"]
    assert req.metadata == {"name": {"web@3/web@3.service"}}


@pytest.mark.parametrize("pattern,name,matches", [
    ("web*", "web@1.service", True), ("web?.service", "web1.service", True), ("web[0-9].service", "web7.service", True),
    ("web[^0-9].service", "web7.service", False), ("db*", "web.service", False), ("web\\*", "web*", True),
])
def test_go_globs(pattern, name, matches):
    assert go_path_match(pattern, name) is matches
