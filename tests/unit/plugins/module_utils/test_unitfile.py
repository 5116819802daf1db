# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.houston.stack.plugins.module_utils import _unitfile as u

O = u.option

# The reference's test vectors (fleet-api-v1.md section 7), verified with fleet's Go code.
HASH_VECTORS = [
    ([O("Service", "ExecStart", "/bin/sleep 100")], "[Service]\nExecStart=/bin/sleep 100\n", "1c6fb6f3684bafb0c173d8b8b957ceff031180c1"),
    ([O("Service", "ExecStart", "/usr/bin/sleep 3000")], None, "248b997d6becee1b835b7ec7d9c8e68d7dd24623"),
    ([O("Unit", "Description", "Hello"), O("Service", "ExecStart", "/bin/sleep 100")],
     "[Unit]\nDescription=Hello\n\n[Service]\nExecStart=/bin/sleep 100\n", "cf96eb9f64b04bb56ad64db2940dee7454c30f5b"),
    ([O("Service", "ExecStart", "/bin/sleep 100"), O("X-Fleet", "Global", "true")], None, "a7ba2995412c497b67f550fd88cd51c390c2cf53"),
    ([O("Unit", "Description", "  padded  "), O("Service", "ExecStart", "/bin/a"), O("Unit", "After", "b.service")],
     None, "95f56d3ec810f35f67ee7eb63437389fb9b23bca"),
    ([], "", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
]


@pytest.mark.parametrize("options, text, sha", HASH_VECTORS)
def test_render_and_hash_match_fleet(options, text, sha):
    if text is not None:
        assert u.render(options) == text
    assert u.unit_hash(options) == sha


def test_hash_after_round_trip_matches_fleet():
    sent = [O("Unit", "Description", "  padded  "), O("Service", "ExecStart", "/bin/a"), O("Unit", "After", "b.service")]
    assert u.normalise(sent) == [O("Unit", "Description", "padded"), O("Unit", "After", "b.service"), O("Service", "ExecStart", "/bin/a")]
    assert u.unit_hash(u.normalise(sent)) == "7bef7c37cea3e9345618b3f56499db82227ed053"


def test_normalise_keeps_duplicates_and_untrimmed_section_names():
    opts = [O("Service", "ExecStartPre", "a"), O("Service", "ExecStartPre", "a"), O(" X ", " k ", " v ")]
    assert u.normalise(opts) == [O("Service", "ExecStartPre", "a"), O("Service", "ExecStartPre", "a"), O(" X ", "k", "v")]


PARSE_CASES = [
    ("[Service]\nExecStart=/bin/sleep 100\n", [O("Service", "ExecStart", "/bin/sleep 100")]),
    ("# comment\n; other\n\n[Unit]\nDescription = Hello world \n[Service]\nExecStart=/bin/a b=c\n",
     [O("Unit", "Description", "Hello world"), O("Service", "ExecStart", "/bin/a b=c")]),
    ("[Service]\nExecStart=/bin/sh -c \\\n  'echo hi'\nType=oneshot\n",
     [O("Service", "ExecStart", "/bin/sh -c 'echo hi'"), O("Service", "Type", "oneshot")]),
    ("[Service]\nEnvironment=\n", [O("Service", "Environment", "")]),
    ("[X-Fleet]\nGlobal=true\n[Service]\nExecStart=/x\n[X-Fleet]\nMachineMetadata=role=web\n",
     [O("X-Fleet", "Global", "true"), O("Service", "ExecStart", "/x"), O("X-Fleet", "MachineMetadata", "role=web")]),
]


@pytest.mark.parametrize("text, options", PARSE_CASES)
def test_parse(text, options):
    assert u.parse(text) == options


def test_parse_render_round_trip_is_stable():
    text = "[Unit]\nDescription=Hello\nAfter=a.service\n\n[Service]\nExecStart=/bin/sleep 100\n\n[X-Fleet]\nGlobal=true\n"
    assert u.render(u.parse(text)) == text


PARSE_ERRORS = [
    ("", "no [Section]"),
    ("# only a comment\n", "no [Section]"),
    ("ExecStart=/bin/a\n[Service]\n", "before any [Section]"),
    ("[Service]\nthis is not an option\n", "line 2: expected 'Name=Value'"),
    ("[Service\nExecStart=/bin/a\n", "line 1: malformed section header"),
    ("[Service]\n=value\n", "option without a name"),
]


@pytest.mark.parametrize("text, message", PARSE_ERRORS)
def test_parse_errors_say_where(text, message):
    with pytest.raises(u.UnitFileError, match=message.replace("[", r"\[")):
        u.parse(text)


VALIDATE_ERRORS = [
    ([O("X-Fleet", "MachineMetdata", "role=web")], "unknown \\[X-Fleet\\] option 'MachineMetdata'"),
    ([O("X-Fleet", "Global", "true"), O("X-Fleet", "MachineID", "abc")], "Global=true cannot be used with MachineID"),
    ([O("X-Fleet", "Global", "yes"), O("X-Fleet", "MachineOf", "a.service")], "Global=true cannot be used with MachineOf"),
    ([O("X-Fleet", "Global", "ON"), O("X-Fleet", "Conflicts", "a*")], "Global=true cannot be used with Conflicts"),
    ([O("X-Fleet", "Global", "1"), O("X-Fleet", "Replaces", "a*")], "Global=true cannot be used with Replaces"),
    ([O("X-Fleet", "MachineID", "abc"), O("X-Fleet", "MachineOf", "a.service")], "MachineID cannot be used with MachineOf"),
    ([O("X-Fleet", "MachineOf", "a.service"), O("X-Fleet", "Conflicts", "a.*")], "peer 'a.service' matches conflict 'a.\\*'"),
    ([O("X-Fleet", "Conflicts", "a*"), O("X-Fleet", "Replaces", "b*")], "Conflicts cannot be used with Replaces"),
    ([O("Service", "ExecStart", "x" * 2048)], "fleet accepts lines below 2048"),
]


@pytest.mark.parametrize("options, message", VALIDATE_ERRORS)
def test_validate_refuses(options, message):
    with pytest.raises(u.UnitFileError, match=message):
        u.validate(options)


@pytest.mark.parametrize("options", [
    [O("X-Fleet", "Global", "false"), O("X-Fleet", "MachineID", "abc")],
    [O("X-Fleet", "Global", "true"), O("X-Fleet", "Global", "false"), O("X-Fleet", "MachineOf", "a.service")],
    [O("X-Fleet", "Global", "true"), O("X-Fleet", "MachineMetadata", "role=web")],
    [O("X-Fleet", "X-ConditionMachineMetadata", "role=web"), O("X-Houston", "Stack", "s")],
])
def test_validate_accepts(options):
    assert u.validate(options) == options


def test_check_options_refuses_newlines_and_bad_shapes():
    with pytest.raises(u.UnitFileError, match="contains a newline"):
        u.check_options([O("Service", "ExecStart", "a\nb")])
    with pytest.raises(u.UnitFileError, match="expected a mapping"):
        u.check_options([{"section": "Service", "value": "x"}])
    with pytest.raises(u.UnitFileError, match="non-empty list"):
        u.check_options([])
    assert u.check_options([{"section": "X-Fleet", "name": "Global", "value": True}]) == [O("X-Fleet", "Global", "true")]


MACHINES = [
    {"id": "a" * 32, "primaryIP": "127.0.4.11", "metadata": {"role": "web", "az": "a"}},
    {"id": "b" * 32, "primaryIP": "127.0.4.12", "metadata": {"role": "web", "az": "b"}},
    {"id": "c" * 32, "primaryIP": "127.0.4.13", "metadata": {"role": "worker", "az": "a"}},
    {"id": "d" * 32, "primaryIP": "127.0.4.14"},
]

PLACEMENT = [
    ("no constraints", [], "abcd"),
    ("one metadata pair", [O("X-Fleet", "MachineMetadata", "role=web")], "ab"),
    ("different keys, no machine has both", [O("X-Fleet", "MachineMetadata", "az=b"), O("X-Fleet", "MachineMetadata", "role=worker")], ""),
    ("same key twice ORs", [O("X-Fleet", "MachineMetadata", "role=web"), O("X-Fleet", "MachineMetadata", "role=worker")], "abc"),
    ("different keys AND", [O("X-Fleet", "MachineMetadata", "role=web"), O("X-Fleet", "MachineMetadata", "az=a")], "a"),
    ("quoted multi-value", [O("X-Fleet", "MachineMetadata", '"role=web" "az=b"')], "b"),
    ("quoted multi-value with OR", [O("X-Fleet", "MachineMetadata", '"az=a" "role=web"'), O("X-Fleet", "MachineMetadata", "az=b")], "ab"),
    ("malformed pairs ignored", [O("X-Fleet", "MachineMetadata", '"=web" "role=" "a=b=c"')], "abcd"),
    ("unknown key matches nothing", [O("X-Fleet", "MachineMetadata", "disk=ssd")], ""),
    ("deprecated key", [O("X-Fleet", "X-ConditionMachineMetadata", "role=worker")], "c"),
    ("MachineID full", [O("X-Fleet", "MachineID", "c" * 32)], "c"),
    ("MachineID short", [O("X-Fleet", "MachineID", "b" * 8)], "b"),
    ("MachineID unknown", [O("X-Fleet", "MachineID", "e" * 32)], ""),
    ("MachineID with metadata", [O("X-Fleet", "MachineID", "c" * 32), O("X-Fleet", "MachineMetadata", "role=web")], ""),
    ("specifier %i in metadata", [O("X-Fleet", "MachineMetadata", "az=%i")], "ac"),
]


@pytest.mark.parametrize("label, options, expected", PLACEMENT, ids=[p[0] for p in PLACEMENT])
def test_expected_machines(label, options, expected):
    found = u.expected_machines(options, MACHINES, unit_name="web@a.service")
    assert "".join(m["id"][0] for m in found) == expected


@pytest.mark.parametrize("values, result", [
    (["true"], True), (["TRUE"], True), (["t"], True), (["on"], True), (["1"], True), (["yes"], True),
    (["false"], False), (["0"], False), (["true", "false"], False), (["false", "true"], True), ([], False),
])
def test_is_global_uses_last_value(values, result):
    assert u.is_global([O("X-Fleet", "Global", v) for v in values]) is result


def test_specifiers():
    assert u.expand_specifiers("%n %N %p %i %%", "web@v1.service") == "web@v1.service web@v1 web v1 %"
    assert u.expand_specifiers("%x", "web@v1.service") == "%x"


def test_conflicts_split_on_whitespace():
    assert u.xfleet_values([O("X-Fleet", "Conflicts", "a@*.service  b.service")])["Conflicts"] == ["a@*.service", "b.service"]
