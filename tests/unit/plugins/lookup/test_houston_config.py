# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The houston_config lookup reads tests/fixtures/houston (a Houston 0.3 directory) and variants of it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from ansible_collections.houston.stack.plugins.lookup.houston_config import HoustonConfigError, read_houston_config

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "houston")


def units(definition, kind, stack=None):
    if kind == "global":
        return definition["houston_global"]["units"]
    key = "houston_standalone" if kind == "standalone" else "houston_services"
    return definition[key][stack]["units"]


def unit(definition, kind, stack, name):
    found = [u for u in units(definition, kind, stack) if u["name"] == name]
    assert len(found) == 1, "%s not in %s" % (name, [u["name"] for u in units(definition, kind, stack)])
    return found[0]


def files(definition, kind, stack=None):
    if kind == "global":
        return {f["path"]: f for f in definition["houston_global"]["files"]}
    key = "houston_standalone" if kind == "standalone" else "houston_services"
    return {f["path"]: f for f in definition[key][stack]["files"]}


@pytest.fixture(name="config_dir")
def fixture_config_dir(tmp_path):
    target = tmp_path / "houston"
    shutil.copytree(FIXTURE, target)
    return target


def edit(config_dir, relative, old, new):
    path = config_dir / relative
    text = path.read_text()
    assert old in text, "fixture changed: %r not in %s" % (old, relative)
    path.write_text(text.replace(old, new))


# ---------------------------------------------------------------------------------------------------------------------
# What a Houston user gets from the fixture directory, per environment.
# (environment, accessor, expected)
READ_CASES = [
    ("test-us-east-1", lambda d: d["houston_environment"], "test-us-east-1"),
    ("test-us-east-1", lambda d: d["houston_consul_address"], "https://consul.test-us-east-1.example.com:443"),
    ("test-us-east-1", lambda d: d["houston_fleet_endpoint"], "https://fleet.test-us-east-1.example.com"),
    ("prod-us-east-1", lambda d: d["houston_consul_address"], "http://consul.prod-us-east-1.example.com:8500"),
    ("local", lambda d: d["houston_consul_address"], "unix:///var/run/consul.sock"),
    ("local", lambda d: d["houston_fleet_endpoint"], "unix:///var/run/fleet.sock"),
    # per-environment variables, numbers given as text
    ("test-us-east-1", lambda d: d["houston_variables"], {"domain": "test-us-east-1.example.com", "memcached_memory": "64"}),
    ("prod-us-east-1", lambda d: d["houston_variables"]["memcached_memory"], "512"),
    # an environment without a variables block gets the flat mapping minus the other environments' blocks: nothing
    ("local", lambda d: d["houston_variables"], {}),
    # global units in order, version from the entry
    ("test-us-east-1", lambda d: [(u["name"], u["version"]) for u in units(d, "global")], [("fluentd", "707464a0"), ("consul", "35e75d05")]),
    # the [environment:...] condition keeps a unit only in that environment; other [k:v] keys are ignored
    ("test-us-east-1", lambda d: [u["name"] for u in units(d, "service", "blog")],
     ["memcached", "nginx", "consul-template-nginx", "datadog", "blog-cache"]),
    ("prod-us-east-1", lambda d: [u["name"] for u in units(d, "service", "blog")],
     ["memcached", "nginx", "consul-template-nginx", "datadog", "newrelic-sysmond", "blog-cache"]),
    ("prod-us-east-1", lambda d: unit(d, "service", "blog", "newrelic-sysmond")["version"], "2.1.0.124"),
    # a unit without a version is 'latest', as in Houston
    ("test-us-east-1", lambda d: unit(d, "service", "blog", "consul-template-nginx")["version"], "latest"),
    ("test-us-east-1", lambda d: [(u["name"], u["version"]) for u in units(d, "standalone", "redis")], [("redis", "2.8"), ("datadog", "ff444e66")]),
    # the service stack: consul service name defaults to the stack
    ("test-us-east-1", lambda d: d["houston_services"]["blog"]["consul_service"], "blog"),
    ("test-us-east-1", lambda d: sorted(d["houston_services"]), ["blog"]),
    ("test-us-east-1", lambda d: sorted(d["houston_standalone"]), ["redis"]),
    # file-unit.template is returned as text
    ("test-us-east-1", lambda d: "{archive_key}" in d["houston_file_unit_template"], True),
]


@pytest.mark.parametrize("environment, accessor, expected", READ_CASES)
def test_reads_the_fixture(environment, accessor, expected):
    definition, _warnings = read_houston_config(FIXTURE, environment)
    assert accessor(definition) == expected


# Unit text after Houston's substitutions: (environment, kind, stack, unit (None: the service unit), present, absent)
CONTENT_CASES = [
    # {service} is the stack name in stack units, empty in global units (Houston 0.3)
    ("test-us-east-1", "standalone", "redis", "redis", ["Description=Redis for redis", "MachineMetadata=service=redis"], ["{service}"]),
    ("test-us-east-1", "global", None, "fluentd", ["-e SERVICE= fluent/fluentd:%i"], ["{service}"]),
    # manifest variables of the environment
    ("test-us-east-1", "service", "blog", "memcached", ["memcached:%i -m 64"], ["{memcached_memory}"]),
    ("prod-us-east-1", "service", "blog", "memcached", ["memcached:%i -m 512"], []),
    ("test-us-east-1", "service", "blog", None, ["DOMAIN=test-us-east-1.example.com"], ["{domain}"]),
    # {environment} is not substituted in units (only in files), as in Houston
    ("test-us-east-1", "global", None, "consul", ["-dc={environment}"], []),
    # references to units of the run become versioned fleet names; other units stay
    ("test-us-east-1", "global", None, "consul", ["Requires=docker.service fluentd@707464a0.service"], []),
    ("test-us-east-1", "service", "blog", "memcached", ["Requires=consul@35e75d05.service", "After=consul@35e75d05.service"], []),
    ("test-us-east-1", "service", "blog", "nginx", ["Requires=blog-memcached@1.4.24.service"], ["memcached.service\n"]),
    # whole names only: nginx.service is not rewritten inside consul-template-nginx.service
    ("test-us-east-1", "service", "blog", "consul-template-nginx", ["Requires=blog-nginx@1.9.3.service", "consul-template-nginx-%i"], []),
    # the service unit sees every unit of its stack and the global units; prefixed names resolve too
    ("test-us-east-1", "service", "blog", None,
     ["Requires=consul@35e75d05.service", "Requires=blog-memcached@1.4.24.service", "After=blog-memcached@1.4.24.service blog-blog-cache@3.service",
      "MachineMetadata=service=%p"], []),
    # the .yaml unit form: the variant keyed by the stack
    ("test-us-east-1", "standalone", "redis", "datadog", ["Description=Datadog agent watching redis"], ["memcached"]),
    ("test-us-east-1", "service", "blog", "datadog", ["Description=Datadog agent watching memcached and nginx for blog", "Global=true"], []),
    # systemd ${VAR} stays as it is
    ("test-us-east-1", "global", None, "consul", ["-advertise=${COREOS_PRIVATE_IPV4}"], []),
]


@pytest.mark.parametrize("environment, kind, stack, name, present, absent", CONTENT_CASES)
def test_unit_content_is_substituted_as_houston_did(environment, kind, stack, name, present, absent):
    definition, _warnings = read_houston_config(FIXTURE, environment)
    if name is None:
        content = definition["houston_services"][stack]["service"]["content"]
    else:
        content = unit(definition, kind, stack, name)["content"]
    for text in present:
        assert text in content
    for text in absent:
        assert text not in content


# write_files entries: (environment, kind, stack, path, expected entry or None when left out)
FILE_CASES = [
    ("test-us-east-1", "global", None, "/opt/bin/consul-register",
     {"permissions": "0755", "owner": "core", "group": "core"}),
    # {service} is 'global' in global files; {environment} is substituted; Go template braces are untouched
    ("test-us-east-1", "global", None, "/opt/bin/consul-register",
     {"content": "#!/usr/bin/bash\nPORT=`docker inspect -f '{{range $p, $conf := .NetworkSettings.Ports}}{{(index $conf 0).HostPort}}{{end}}' $1-$2`\n"
                 "echo \"register $1 for global in test-us-east-1\"\n"}),
    ("prod-us-east-1", "service", "blog", "/etc/dd-agent/conf.d/nginx.yaml",
     {"content": "instances:\n  - nginx_status_url: http://nginx/nginx_status/\n    tags:\n      - service:blog\n      - environment:prod-us-east-1\n",
      "permissions": "0755"}),
    ("test-us-east-1", "service", "blog", "/etc/profile.d/memcached.env", {"permissions": "0644", "owner": "core"}),
    # manifest variables are not substituted in files (Houston did not)
    ("prod-us-east-1", "service", "blog", "/etc/newrelic/nrsysmond.cfg", {"content": "license_key={license}\n"}),
    # entries for another environment are left out
    ("test-us-east-1", "service", "blog", "/etc/newrelic/nrsysmond.cfg", None),
    ("prod-us-east-1", "service", "blog", "/etc/blog/test-only.conf", None),
    # no permissions: the mode Houston's archive had
    ("test-us-east-1", "service", "blog", "/etc/blog/test-only.conf", {"permissions": "0600", "content": "debug=true\n"}),
]


@pytest.mark.parametrize("environment, kind, stack, path, expected", FILE_CASES)
def test_write_files(environment, kind, stack, path, expected):
    definition, _warnings = read_houston_config(FIXTURE, environment)
    entries = files(definition, kind, stack)
    if expected is None:
        assert path not in entries
    else:
        assert {k: entries[path][k] for k in expected} == expected
        assert "environment" not in entries[path]


def test_an_empty_files_manifest_is_no_files():
    definition, _warnings = read_houston_config(FIXTURE, "test-us-east-1")
    assert definition["houston_standalone"]["redis"]["files"] == []


def test_entries_carry_only_the_keys_the_roles_take():
    definition, _warnings = read_houston_config(FIXTURE, "prod-us-east-1")
    stacks = list(definition["houston_standalone"].values()) + list(definition["houston_services"].values()) + [definition["houston_global"]]
    for stack in stacks:
        for entry in stack["units"]:
            assert set(entry) == {"name", "version", "content"}
        for entry in stack["files"]:
            assert set(entry) <= {"path", "content", "owner", "group", "permissions"}
    assert set(definition["houston_services"]["blog"]) == {"units", "service", "files", "consul_service"}
    assert set(definition["houston_standalone"]["redis"]) == {"units", "files"}


def test_unresolved_placeholders_are_reported():
    _definition, warnings = read_houston_config(FIXTURE, "test-us-east-1")
    assert any("units/shared/consul" in w and "{environment}" in w for w in warnings)
    assert not any("{COREOS_PRIVATE_IPV4}" in w for w in warnings)


def test_the_directory_is_not_changed(config_dir):
    before = {p: p.read_bytes() for p in config_dir.rglob("*") if p.is_file()}
    read_houston_config(config_dir, "prod-us-east-1")
    after = {p: p.read_bytes() for p in config_dir.rglob("*") if p.is_file()}
    assert before == after


# ---------------------------------------------------------------------------------------------------------------------
# Variants of the directory: (id, edits [(file, old, new)], environment, kwargs, accessor, expected)
VARIANT_CASES = [
    ("flat-variables",
     [("manifest.yaml", "variables:\n  test-us-east-1:\n    domain: test-us-east-1.example.com\n    memcached_memory: 64\n"
       "  prod-us-east-1:\n    domain: prod-us-east-1.example.com\n    memcached_memory: 512\n",
       "variables:\n  domain: flat.example.com\n  memcached_memory: 128\n")],
     "prod-us-east-1", {}, lambda d: (d["houston_variables"], unit(d, "service", "blog", "memcached")["content"].count("-m 128")),
     ({"domain": "flat.example.com", "memcached_memory": "128"}, 1)),
    ("global-yaml-unit-form",
     [("units/shared/datadog.yaml", "redis: |", "global: |\n  [Unit]\n  Description=global datadog {service}\nredis: |"),
      ("manifest.yaml", "  - consul:35e75d05\n", "  - consul:35e75d05\n  - datadog:7\n")],
     "test-us-east-1", {}, lambda d: unit(d, "global", None, "datadog")["content"], "[Unit]\nDescription=global datadog \n"),
    ("no-global-section",
     [("manifest.yaml", "global:\n  - fluentd:707464a0\n  - consul:35e75d05\n", "")],
     "test-us-east-1", {}, lambda d: (units(d, "global"), "Requires=consul.service" in unit(d, "service", "blog", "memcached")["content"]),
     ([], True)),
    ("endpoint-overrides", [], "test-us-east-1",
     {"fleet_endpoint": "unix:///tmp/lab/fleet.sock", "consul_address": "127.0.7.10:8500"},
     lambda d: (d["houston_fleet_endpoint"], d["houston_consul_address"]), ("unix:///tmp/lab/fleet.sock", "127.0.7.10:8500")),
    ("stacks-filter", [("units/shared/datadog.yaml", "redis: |", "other: |")], "test-us-east-1", {"stacks": ["redis"]},
     lambda d: "stacks-filter-not-reached", None),
    ("stacks-filter-skips-broken-stack", [("units/shared/redis.service", "[Unit]", "[Unit]")], "test-us-east-1", {"stacks": ["blog"]},
     lambda d: (sorted(d["houston_standalone"]), sorted(d["houston_services"])), ([], ["blog"])),
    ("quoted-permissions", [("files/service/blog.yaml", "permissions: 0644", "permissions: '0640'")], "test-us-east-1", {},
     lambda d: files(d, "service", "blog")["/etc/profile.d/memcached.env"]["permissions"], "0640"),
    ("no-file-unit-template", [], "test-us-east-1", {}, lambda d: d["houston_file_unit_template"], None),
]


@pytest.mark.parametrize("case_id, edits, environment, kwargs, accessor, expected", VARIANT_CASES, ids=[c[0] for c in VARIANT_CASES])
def test_variants(config_dir, case_id, edits, environment, kwargs, accessor, expected):
    for relative, old, new in edits:
        edit(config_dir, relative, old, new)
    if case_id == "no-file-unit-template":
        (config_dir / "file-unit.template").unlink()
    if case_id == "stacks-filter":
        # redis needs the 'redis' variant of datadog.yaml, which is gone: the filter does not hide that
        with pytest.raises(HoustonConfigError, match=r"units/shared/datadog.yaml: redis: no unit text for 'redis'"):
            read_houston_config(config_dir, environment, **kwargs)
        return
    definition, _warnings = read_houston_config(config_dir, environment, **kwargs)
    assert accessor(definition) == expected


# Malformed directories: (id, edits, environment, kwargs, error pattern naming file and field)
ERROR_CASES = [
    ("unknown-environment", [], "staging", {},
     r"manifest.yaml: environments: environment 'staging' not found \(known: local, prod-us-east-1, test-us-east-1\)"),
    ("missing-unit-file", [("manifest.yaml", "    - nginx:1.9.3\n", "    - nginx:1.9.3\n    - varnish:4\n")], "test-us-east-1", {},
     r"units/shared/varnish.service: unit file not found \(nor varnish.yaml\), needed by service.blog\[2\] 'varnish:4'"),
    ("missing-service-unit", [], "test-us-east-1", {"remove": "units/service/blog.service"},
     r"units/service/blog.service: unit file not found \(nor blog.yaml\), needed by service.blog \(the service unit\)"),
    ("bad-unit-entry", [("manifest.yaml", "    - redis:2.8\n", "    - redis:2.8 beta\n")], "test-us-east-1", {},
     r"manifest.yaml: standalone.redis\[0\]: 'redis:2.8 beta' is not a unit entry name\[:version\]\[\[environment:env\]\]"),
    ("bad-version", [("manifest.yaml", "  - fluentd:707464a0\n", "  - fluentd:a..b\n")], "test-us-east-1", {},
     r"manifest.yaml: global\[0\]: 'fluentd:a..b': version name 'a..b' is invalid"),
    ("stale-keys", [("manifest.yaml", "\nglobal:\n", "\nglobal-units:\n")], "test-us-east-1", {},
     r"manifest.yaml: global-units: key of Houston 0.1 .* read 'global' instead"),
    ("no-environments", [("manifest.yaml", "environments:\n", "environmentz:\n")], "test-us-east-1", {},
     r"manifest.yaml: environments: missing or empty"),
    ("missing-consul", [("manifest.yaml", "    consul: https://consul.test-us-east-1.example.com\n", "")], "test-us-east-1", {},
     r"manifest.yaml: environments.test-us-east-1.consul: missing"),
    ("bad-consul-url", [("manifest.yaml", "consul: https://consul.test-us-east-1.example.com", "consul: consul.example.com")], "test-us-east-1", {},
     r"manifest.yaml: environments.test-us-east-1.consul: must be a URL scheme://host\[:port\], got 'consul.example.com'"),
    ("missing-fleet", [("manifest.yaml", "    fleet: https://fleet.test-us-east-1.example.com\n", "")], "test-us-east-1", {},
     r"manifest.yaml: environments.test-us-east-1.fleet: missing"),
    ("service-not-a-list", [("manifest.yaml", "  blog:\n    - memcached", "  blog: memcached\n  x:\n    - memcached")], "test-us-east-1", {},
     r"manifest.yaml: service.blog: must be a list of unit entries"),
    ("yaml-variant-missing", [("units/shared/datadog.yaml", "blog: |", "other: |")], "test-us-east-1", {},
     r"units/shared/datadog.yaml: blog: no unit text for 'blog' \(keys: other, redis\), needed by service.blog\[3\] 'datadog:5.2.0'"),
    ("invalid-yaml", [("manifest.yaml", "global:\n", "global: [\n")], "test-us-east-1", {}, r"manifest.yaml: not valid YAML"),
    ("relative-file-path", [("files/service/blog.yaml", "- path: /etc/profile.d/memcached.env", "- path: etc/memcached.env")], "test-us-east-1", {},
     r"files/service/blog.yaml: \[0\].path: must be an absolute path, got 'etc/memcached.env'"),
    ("bad-permissions", [("files/global.yaml", "permissions: 0755", "permissions: rwx")], "test-us-east-1", {},
     r"files/global.yaml: \[0\].permissions: must be a file mode such as 0644, got 'rwx'"),
    ("files-not-a-list", [("files/global.yaml", "---\n", "---\n/opt/bin/x: {}\n__ignore:\n")], "test-us-east-1", {},
     r"files/global.yaml: must be a list of write_files entries"),
    ("variable-not-a-string", [("manifest.yaml", "    memcached_memory: 64\n", "    memcached_memory: [64]\n")], "test-us-east-1", {},
     r"manifest.yaml: variables.test-us-east-1.memcached_memory: must be a string, got list"),
    ("unknown-stack-filter", [], "test-us-east-1", {"stacks": ["shop"]}, r"manifest.yaml: standalone/service: no stack named 'shop'"),
    ("not-a-directory", [], "test-us-east-1", {"remove": ""}, r"not a directory \(expected a Houston configuration directory holding manifest.yaml\)"),
    ("no-manifest", [], "test-us-east-1", {"remove": "manifest.yaml"}, r"manifest.yaml: file not found"),
]


@pytest.mark.parametrize("case_id, edits, environment, kwargs, pattern", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_errors_name_the_file_and_field(config_dir, case_id, edits, environment, kwargs, pattern):
    for relative, old, new in edits:
        edit(config_dir, relative, old, new)
    kwargs = dict(kwargs)
    remove = kwargs.pop("remove", None)
    if remove == "":
        shutil.rmtree(config_dir)
    elif remove:
        (config_dir / remove).unlink()
    with pytest.raises(HoustonConfigError, match=pattern):
        read_houston_config(config_dir, environment, **kwargs)


# ---------------------------------------------------------------------------------------------------------------------
# The plugin as Ansible calls it (a real ansible run on localhost, the collection from .cache/collections).
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))


def run_ansible(expression, tmp_path):
    """Write the expression's value as JSON to tmp_path/out.json with an ad-hoc copy task; return (process, path)."""
    env = dict(os.environ)
    env["ANSIBLE_COLLECTIONS_PATH"] = os.path.join(REPO, ".cache", "collections")
    env["ANSIBLE_LOCAL_TEMP"] = str(tmp_path / "ansible-tmp")
    out = tmp_path / "out.json"
    ansible = os.path.join(os.path.dirname(sys.executable), "ansible")
    args = json.dumps({"content": "{{ %s | to_json }}" % expression, "dest": str(out)})
    process = subprocess.run(
        [ansible, "localhost", "-i", "localhost,", "-c", "local", "-e", "ansible_python_interpreter=" + sys.executable,
         "-m", "ansible.builtin.copy", "-a", args],
        env=env, capture_output=True, text=True, check=False)
    return process, out


def test_lookup_from_ansible_returns_the_definition(tmp_path):
    expression = "lookup('houston.stack.houston_config', '%s', environment='prod-us-east-1')" % os.path.abspath(FIXTURE)
    result, out = run_ansible(expression, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    value = json.loads(out.read_text())
    assert value["houston_environment"] == "prod-us-east-1"
    assert [u["name"] for u in value["houston_services"]["blog"]["units"]][-2:] == ["newrelic-sysmond", "blog-cache"]
    assert "Requires=consul@35e75d05.service" in value["houston_services"]["blog"]["service"]["content"]


def test_lookup_from_ansible_fails_naming_the_environment(tmp_path):
    expression = "lookup('houston.stack.houston_config', '%s', environment='nope')" % os.path.abspath(FIXTURE)
    result, out = run_ansible(expression, tmp_path)
    assert result.returncode != 0
    assert not out.exists()
    assert "environment 'nope' not found (known: local, prod-us-east-1, test-us-east-1)" in result.stdout + result.stderr
