# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""houston.stack.stack_render's logic: stack definition in, the facts the stack_deploy role keeps (or the message the
deploy fails with) out. Templates are real files rendered by ansible's own template engine, as the action does."""
from __future__ import annotations

import pytest

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from ansible_collections.houston.stack.plugins.plugin_utils import _stack_render as sr

TEMPLATES = {
    "units/shared/cache.service.j2": "[Unit]\nDescription=cache of {{ stack }} {{ unit_version }} {{ unit_name }} {{ domain }}\n",
    "units/shared/web.service.j2": "[Service]\nExecStart=/bin/web {{ unit }} {{ unit_names.cache }} {{ variables.domain }}\n",
    "units/service/shop.service.j2": ("[Unit]\nDescription={{ stack }} {{ version }} {{ consul_service }}\n"
                                      "{% if domain %}\n[Service]\nExecStart=/bin/shop {{ inventory_name }}\n{% endif %}\n"),
    "units/custom/other.j2": "[Service]\nExecStart=/bin/other {{ unit }}\n",
    "units/shared/broken.service.j2": "[Service]\nExecStart=/bin/echo {{ not_a_variable }}\n",
    "files/app.conf.j2": "domain={{ domain }} stack={{ stack }} version={{ version }} via={{ variables.domain }}\n",
    "files/raw.txt": "{{ not rendered }}\n",
    "files/broken.conf.j2": "x={{ not_a_variable }}\n",
}


@pytest.fixture(name="tree")
def fixture_tree(tmp_path):
    for name, text in TEMPLATES.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def render_facts(tree, **options):
    """Run the action's logic the way the action does, with a real loader and templar."""
    loader = DataLoader()
    task_vars = {"inventory_name": "ctl", "ansible_search_path": [str(tree)]}
    templar = Templar(loader=loader, variables=task_vars)
    options = {"stack": "shop", "kind": "service", "state": "present", "version": "v1", "environment": "lab",
               "units": [], "service": {}, "variables": {"domain": "example.com"}, "files": [],
               "units_dir": f"{tree}/units", "files_dir": f"{tree}/files", "consul_service": "shop-svc",
               "keep_versions": 1, **options}
    return sr.render_stack(options, lambda path, template_vars: sr.render_template_file(
        templar, loader, task_vars, path, template_vars))


def unit_texts(facts):
    return {unit["fleet_name"]: unit["text"] for unit in facts["stack_deploy_rendered"]}


UNIT_CASES = [
    ("units from templates, then the service unit", {"units": ["cache", "web:1.9"]}, {
        "shop-cache@v1.service": "[Unit]\nDescription=cache of shop v1 shop-cache@v1.service example.com\n",
        "shop-web@1.9.service": "[Service]\nExecStart=/bin/web web shop-cache@v1.service example.com\n",
        "shop@v1.service": "[Unit]\nDescription=shop v1 shop-svc\n[Service]\nExecStart=/bin/shop ctl\n",
    }),
    ("inline content is kept as given, the template is not read",
     {"units": [{"name": "web", "content": "[Service]\nExecStart=/bin/inline\n"}],
      "service": {"content": "[Service]\nExecStart=/bin/svc\n"}},
     {"shop-web@v1.service": "[Service]\nExecStart=/bin/inline\n", "shop@v1.service": "[Service]\nExecStart=/bin/svc\n"}),
    ("a relative template is under units_dir, an absolute one is used as is",
     {"units": [{"name": "other", "template": "custom/other.j2"}, {"name": "abs", "template": "ABS/units/custom/other.j2"}],
      "service": {"template": "custom/other.j2"}},
     {"shop-other@v1.service": "[Service]\nExecStart=/bin/other other\n",
      "shop-abs@v1.service": "[Service]\nExecStart=/bin/other abs\n",
      "shop@v1.service": "[Service]\nExecStart=/bin/other shop\n"}),
    ("units of other environments are left out", {"units": ["web[environment:prod]", "cache"]},
     {"shop-cache@v1.service": "[Unit]\nDescription=cache of shop v1 shop-cache@v1.service example.com\n",
      "shop@v1.service": "[Unit]\nDescription=shop v1 shop-svc\n[Service]\nExecStart=/bin/shop ctl\n"}),
    ("a global stack: latest versions and no service unit", {"kind": "global", "stack": "global", "version": "",
                                                             "units": ["cache"]},
     {"cache@latest.service": "[Unit]\nDescription=cache of global latest cache@latest.service example.com\n"}),
    ("the stack's variables do not hide the names the roles define",
     {"units": ["cache"], "variables": {"domain": "d", "stack": "not-the-stack", "unit_name": "nope"}},
     {"shop-cache@v1.service": "[Unit]\nDescription=cache of shop v1 shop-cache@v1.service d\n",
      "shop@v1.service": "[Unit]\nDescription=shop v1 shop-svc\n[Service]\nExecStart=/bin/shop ctl\n"}),
]


@pytest.mark.parametrize("options, expected", [c[1:] for c in UNIT_CASES], ids=[c[0] for c in UNIT_CASES])
def test_units_are_rendered_in_chain_order(tree, options, expected):
    options = {key: ([dict(u, template=u["template"].replace("ABS", str(tree))) if isinstance(u, dict) and "template" in u
                      else u for u in value] if key == "units" else value) for key, value in options.items()}
    facts = render_facts(tree, **options)
    assert unit_texts(facts) == expected
    assert list(unit_texts(facts)) == list(expected)


def test_rendered_units_keep_their_chain_entry(tree):
    facts = render_facts(tree, units=["cache"])
    assert facts["stack_deploy_rendered"] == [
        {"unit": "cache", "version": "v1", "fleet_name": "shop-cache@v1.service", "template": None, "content": None,
         "environments": [], "text": "[Unit]\nDescription=cache of shop v1 shop-cache@v1.service example.com\n"},
        {"unit": "shop", "version": "v1", "fleet_name": "shop@v1.service", "template": None, "content": None,
         "service": True, "text": "[Unit]\nDescription=shop v1 shop-svc\n[Service]\nExecStart=/bin/shop ctl\n"},
    ]


FILE_CASES = [
    ("inline content with defaults", {"path": "/etc/a", "content": "x\n"},
     {"path": "/etc/a", "owner": "root", "group": "root", "permissions": "0644", "content": "x\n"}),
    ("no content: empty", {"path": "/etc/a"},
     {"path": "/etc/a", "owner": "root", "group": "root", "permissions": "0644", "content": ""}),
    ("a .j2 src is rendered; a number mode is written in octal",
     {"path": "/etc/app", "src": "app.conf.j2", "permissions": 493, "owner": "core"},
     {"path": "/etc/app", "owner": "core", "group": "root", "permissions": "0755",
      "content": "domain=example.com stack=shop version=v1 via=example.com\n"}),
    ("another src stays a path", {"path": "/etc/raw", "src": "raw.txt", "permissions": "0600", "group": "core"},
     {"path": "/etc/raw", "owner": "root", "group": "core", "permissions": "0600", "src": "FILES/raw.txt"}),
    ("an absolute src is used as is", {"path": "/etc/raw", "src": "FILES/raw.txt"},
     {"path": "/etc/raw", "owner": "root", "group": "root", "permissions": "0644", "src": "FILES/raw.txt"}),
    ("empty owner, group and mode take the defaults; encoding is passed on",
     {"path": "/etc/b", "content": "aGk=", "encoding": "b64", "owner": "", "group": None, "permissions": ""},
     {"path": "/etc/b", "owner": "root", "group": "root", "permissions": "0644", "content": "aGk=", "encoding": "b64"}),
    ("src None with content: the content", {"path": "/etc/c", "src": None, "content": "c"},
     {"path": "/etc/c", "owner": "root", "group": "root", "permissions": "0644", "content": "c"}),
]


@pytest.mark.parametrize("entry, expected", [c[1:] for c in FILE_CASES], ids=[c[0] for c in FILE_CASES])
def test_write_files_entries(tree, entry, expected):
    entry = {k: v.replace("FILES", f"{tree}/files") if isinstance(v, str) else v for k, v in entry.items()}
    expected = {k: v.replace("FILES", f"{tree}/files") if isinstance(v, str) else v for k, v in expected.items()}
    assert render_facts(tree, files=[entry])["stack_deploy_rendered_files"] == [expected]


def test_files_of_other_environments_are_left_out_and_the_environment_ones_come_last(tree):
    files = [{"path": "/lab", "content": "l", "environment": "lab"}, {"path": "/prod", "content": "p", "environment": "prod"},
             {"path": "/all", "content": "a"}, {"path": "/none", "content": "n", "environment": None}]
    facts = render_facts(tree, files=files)
    assert [f["path"] for f in facts["stack_deploy_rendered_files"]] == ["/all", "/lab"]


def test_absent_checks_the_units_but_renders_nothing(tree):
    facts = render_facts(tree, state="absent", units=["broken"], files=[{"path": "/x", "src": "broken.conf.j2"}])
    assert facts == {"stack_deploy_rendered": [], "stack_deploy_rendered_files": []}


ERROR_CASES = [
    ("no unit for the environment", {"kind": "standalone", "environment": "", "units": ["web[environment:prod]"]},
     "stack shop has no unit for environment (none): every unit entry is limited to other environments; "),
    ("keep_versions negative", {"units": ["web"], "keep_versions": -1},
     "keep_versions of stack shop is -1: it must be 0 or more; "),
    ("content and src", {"units": ["web"], "files": [{"path": "/a", "content": "x", "src": "y"}, {"path": "/b", "content": "x"},
                                                     {"path": "/c", "content": "x", "src": "z"}]},
     "write_files entries of stack shop set both content and src (give one): /a, /c"),
    ("every settings problem at once", {"kind": "standalone", "units": [], "keep_versions": -2,
                                        "files": [{"path": "/a", "content": "x", "src": "y"}]},
     "stack shop has no unit for environment lab: every unit entry is limited to other environments; "
     "keep_versions of stack shop is -2: it must be 0 or more; "
     "write_files entries of stack shop set both content and src (give one): /a"),
    ("a bad unit name", {"units": ["we$rd"]},
     "stack 'shop' units[0] ('we$rd'): unit name 'we$rd' is invalid: use only letters, digits, '.', '_' and '-', "
     "starting with a letter or digit"),
    ("a unit listed twice", {"units": ["web", "web"]}, "stack 'shop' units[1]: unit 'web' is listed twice"),
    ("a service stack without version", {"version": "", "units": ["web"]}, "stack 'shop': a service stack needs a version"),
    ("a missing unit template", {"units": ["nosuch"]},
     "unit shop-nosuch@v1.service of stack shop: the template file TREE/units/shared/nosuch.service.j2 could not be found"),
    ("an undefined variable in a unit template", {"units": ["broken"]},
     "unit shop-broken@v1.service of stack shop: cannot render the template TREE/units/shared/broken.service.j2: "
     "'not_a_variable' is undefined"),
    ("an undefined variable in a file template", {"units": ["cache"], "files": [{"path": "/x", "src": "broken.conf.j2"}]},
     "write_files entry /x of stack shop: cannot render the template TREE/files/broken.conf.j2: 'not_a_variable' is undefined"),
    ("a missing file template", {"units": ["cache"], "files": [{"path": "/x", "src": "nosuch.j2"}]},
     "write_files entry /x of stack shop: the template file TREE/files/nosuch.j2 could not be found"),
    ("a bad mode", {"units": ["cache"], "files": [{"path": "/x", "content": "x", "permissions": 1.5}]},
     "write_files entry /x of stack shop: permissions 1.5 is not a file mode"),
]


@pytest.mark.parametrize("options, message", [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_refused_definitions_fail_with_the_roles_message(tree, options, message):
    with pytest.raises(sr.StackRenderError) as caught:
        render_facts(tree, **options)
    assert str(caught.value) == message.replace("TREE", str(tree))


def test_an_environment_limited_unit_is_checked_even_when_left_out(tree):
    with pytest.raises(sr.StackRenderError, match="units\\[1\\]"):
        render_facts(tree, units=["web", "b@d[environment:prod]"])
