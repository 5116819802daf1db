# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ProcessRuntime: the systemd syntax it understands (command lines, environment, time spans, specifiers)."""
from __future__ import annotations

import pytest

from lab.fleetlab.runtime import (UnitConfigError, build_config, expand_env_argv, expand_specifiers, parse_environment,
                                  parse_environment_file, parse_exec, parse_timespan, unescape_name, unit_name_parts)


@pytest.mark.parametrize("text, argv", [
    ("/bin/echo a  b", ["/bin/echo", "a", "b"]),
    ("/bin/sh -c 'echo \"x y\"; exit 1'", ["/bin/sh", "-c", 'echo "x y"; exit 1']),
    ('/bin/echo "a b" c"d e"f', ["/bin/echo", "a b", "cd ef"]),
    (r"/bin/echo a\tb \x41 \101 \\", ["/bin/echo", "a\tb", "A", "A", "\\"]),
    (r"/bin/echo a\;b \;", ["/bin/echo", "a;b", ";"]),
])
def test_exec_line_quoting(text, argv):
    [command] = parse_exec(text)
    assert command.argv == argv


def test_exec_prefixes_and_semicolon_separated_commands():
    first, second = parse_exec("-@/bin/sh mysh -c true ; :/bin/echo $HOME")
    assert first.ignore_failure and first.argv0 == "mysh" and first.argv == ["/bin/sh", "-c", "true"]
    assert second.argv == ["/bin/echo", "$HOME"] and not second.expand_env and not second.ignore_failure
    [plus] = parse_exec("+!/bin/true")
    assert plus.argv == ["/bin/true"] and not plus.ignore_failure


def test_unbalanced_quote_is_an_error():
    with pytest.raises(UnitConfigError):
        parse_exec("/bin/echo 'oops")


def test_env_expansion_splits_lone_variables_only():
    env = {"ARGS": "-a  -b", "NAME": "x y"}
    assert expand_env_argv(["/bin/cmd", "$ARGS", "${ARGS}", "pre-${NAME}-post", "$NAME.txt", "$$HOME", "$UNSET"], env) == \
        ["/bin/cmd", "-a", "-b", "-a  -b", "pre-x y-post", "x y.txt", "$HOME"]


def test_environment_assignments_with_quotes():
    assert parse_environment('A=1 "B=2 3" C="four five" bad D=') == {"A": "1", "B": "2 3", "C": "four five", "D": ""}


def test_environment_file_syntax():
    text = "# comment\n; other\nA=1\nexport B = two words \nC=\"quoted \\\"x\\\" $y\"\nD='single $z'\nE=a\\\nb\nbad-name=1\n"
    assert parse_environment_file(text) == {"A": "1", "B": "two words", "C": 'quoted "x" $y', "D": "single $z", "E": "ab"}


@pytest.mark.parametrize("text, seconds", [
    ("90", 90.0), ("500ms", 0.5), ("1min 30s", 90.0), ("2m", 120.0), ("1h", 3600.0), ("infinity", None), ("0", 0.0),
])
def test_timespans(text, seconds):
    assert parse_timespan(text) == seconds


def test_bad_timespan():
    with pytest.raises(UnitConfigError):
        parse_timespan("soon")


def test_unit_name_parts_and_specifiers():
    assert unit_name_parts("web-app@v1.service") == {"stem": "web-app@v1", "prefix": "web-app", "instance": "v1"}
    assert unescape_name(r"var-lib-x\x2dy") == "var/lib/x-y"
    spec = {"n": "a@b.service", "i": "b", "%": "%"}
    assert expand_specifiers("%n %i 100%%", spec) == "a@b.service b 100%"
    with pytest.raises(UnitConfigError):
        expand_specifiers("%Z", spec)


def test_config_errors_are_collected_not_raised():
    config = build_config([
        {"section": "Service", "name": "ExecStart", "value": "/bin/a"},
        {"section": "Service", "name": "ExecStart", "value": "/bin/b"},
        {"section": "Service", "name": "Restart", "value": "sometimes"},
    ], {"%": "%"}, default_timeout_start=90, default_timeout_stop=90)
    assert any("more than one ExecStart" in error for error in config.errors)
    assert any("Restart=sometimes" in error for error in config.errors)


def test_empty_assignment_resets_a_list_and_timeout_zero_disables():
    config = build_config([
        {"section": "Service", "name": "ExecStartPre", "value": "/bin/a"},
        {"section": "Service", "name": "ExecStartPre", "value": ""},
        {"section": "Service", "name": "ExecStartPre", "value": "/bin/b"},
        {"section": "Service", "name": "ExecStart", "value": "/bin/c"},
        {"section": "Service", "name": "TimeoutStartSec", "value": "0"},
        {"section": "Service", "name": "TimeoutStopSec", "value": "2s"},
        {"section": "Unit", "name": "After", "value": "a.service b.service"},
        {"section": "X-Fleet", "name": "Global", "value": "true"},
    ], {"%": "%"}, default_timeout_start=90, default_timeout_stop=90)
    assert [c.argv for c in config.exec["ExecStartPre"]] == [["/bin/b"]]
    assert config.timeout_start is None and config.timeout_stop == 2.0
    assert config.deps["After"] == ["a.service", "b.service"] and not config.errors
