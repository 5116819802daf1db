# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.

"""Validate a stack definition and render its unit templates and write_files entries (houston.stack.stack_render).

The stack_deploy role used to do this in four templated tasks (set_fact loops around the template lookup); this is
the same logic in one pass. The unit chain comes from the ``stack_units`` filter; templates are rendered the way
``lookup('ansible.builtin.template', path, template_vars=...)`` renders them in ansible-core 2.19 (see
:func:`render_template_file`): the file content is trusted as a template, it sees every variable of the task plus
Ansible's template variables (``template_path``, ``ansible_managed``...) plus the given template variables.
"""

from __future__ import annotations

import numbers
import os

from ansible.errors import AnsibleError, AnsibleFilterError
from ansible.template import trust_as_template
from ansible._internal._templating import _template_vars
from ansible._internal._templating._engine import TemplateOptions, TemplateOverrides

from ansible_collections.houston.stack.plugins.filter.stack import stack_units

# The template lookup's option defaults (it has no ini/env settings).
_LOOKUP_OVERRIDES = TemplateOverrides.from_kwargs(dict(
    variable_start_string="{{",
    variable_end_string="}}",
    comment_start_string="{#",
    comment_end_string="#}",
    trim_blocks=True,
))


class StackRenderError(Exception):
    """A stack definition the deploy refuses; the message is the one the user sees."""


class TemplateNotFound(AnsibleError):
    """No file for a template path in the task's search path."""


def _jinja_int(value):
    """``value | int`` as Jinja2 computes it (0 when it is not a number)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError):
            return 0


def stack_chain(units, stack, kind, state="present", version="", environment="", service=None):
    """The units of the stack for ``environment`` in deploy order (``stack_units``), then the service unit of a
    service stack that is deployed. A bad unit entry raises :class:`StackRenderError` with the filter's message."""
    try:
        chain = stack_units(units, stack, kind, version or None, environment or None)
    except AnsibleFilterError as exc:
        raise StackRenderError(exc.message) from exc
    if kind == "service" and state == "present":
        service = service or {}
        chain.append({"unit": stack, "version": version, "fleet_name": f"{stack}@{version}.service",
                      "template": service.get("template"), "content": service.get("content"), "service": True})
    return chain


def settings_error(stack, state, environment, chain, keep_versions, files):
    """The message of every settings problem at once (the roles' wording), or None when the settings are fine."""
    message = ""
    if state == "present" and not chain:
        message += (f"stack {stack} has no unit for environment {environment or '(none)'}: "
                    f"every unit entry is limited to other environments; ")
    if _jinja_int(keep_versions) < 0:
        message += f"keep_versions of stack {stack} is {keep_versions}: it must be 0 or more; "
    both = [entry.get("path", "") for entry in files or []
            if isinstance(entry, dict) and entry.get("content") is not None and entry.get("src") is not None]
    if both:
        message += f"write_files entries of stack {stack} set both content and src (give one): {', '.join(map(str, both))}"
    return message or None


def unit_template_path(entry, units_dir):
    """The template of a chain entry without inline content: its ``template`` (absolute, or relative to
    ``units_dir``), else ``service/<stack>.service.j2`` for the service unit and ``shared/<unit>.service.j2``."""
    template = entry.get("template")
    if template and os.path.isabs(template):
        return template
    default = ("service/" if entry.get("service") else "shared/") + f"{entry['unit']}.service.j2"
    return f"{units_dir}/{template or default}"


def selected_files(files, environment):
    """write_files entries without ``environment``, then those whose ``environment`` is this one."""
    files = [entry for entry in files or [] if isinstance(entry, dict)]
    return ([entry for entry in files if "environment" not in entry]
            + [entry for entry in files if "environment" in entry and entry["environment"] == environment])


def file_mode(permissions):
    """``permissions`` as the archive wants it: a number in octal on 4 digits, else the text (default 0644)."""
    if isinstance(permissions, numbers.Number):
        return "%04o" % permissions
    return str(permissions or "0644")


def file_source(entry, files_dir):
    """The entry's ``src`` as a path (relative ones under ``files_dir``), or None."""
    src = entry.get("src")
    if src is None:
        return None
    return src if os.path.isabs(src) else f"{files_dir}/{src}"


def render_stack(options, render):
    """The facts of a rendered stack.

    ``options``: the action's options (stack, kind, state, version, environment, units, service, variables, files,
    units_dir, files_dir, consul_service, keep_versions). ``render(path, template_vars)`` renders a template file
    (:func:`render_template_file`) and raises AnsibleError when it cannot (TemplateNotFound when there is no file).

    Returns ``{stack_deploy_rendered: [chain entry + text], stack_deploy_rendered_files: [archive entries]}`` (empty
    lists when ``state`` is absent); raises :class:`StackRenderError`.
    """
    stack, kind, state = options["stack"], options["kind"], options.get("state", "present")
    version, environment = options.get("version", ""), options.get("environment", "")
    variables = options.get("variables") or {}
    files = options.get("files") or []
    consul_service = options.get("consul_service", "")
    chain = stack_chain(options.get("units") or [], stack, kind, state, version, environment, options.get("service"))
    error = settings_error(stack, state, environment, chain, options.get("keep_versions", 1), files)
    if error:
        raise StackRenderError(error)
    facts = {"stack_deploy_rendered": [], "stack_deploy_rendered_files": []}
    if state != "present":
        return facts

    unit_names = dict(zip((entry["unit"] for entry in chain), (entry["fleet_name"] for entry in chain)))
    for entry in chain:
        text = entry.get("content")
        if not text:
            path = unit_template_path(entry, options.get("units_dir", ""))
            text = _render(render, path, dict(variables, stack=stack, version=version, variables=variables,
                                              unit=entry["unit"], unit_version=entry["version"],
                                              unit_name=entry["fleet_name"], unit_names=unit_names,
                                              consul_service=consul_service),
                           f"unit {entry['fleet_name']} of stack {stack}")
        facts["stack_deploy_rendered"].append(dict(entry, text=text))

    for number, entry in enumerate(selected_files(files, environment), start=1):
        if "path" not in entry:
            raise StackRenderError(f"write_files entry #{number} of stack {stack} has no path")
        where = f"write_files entry {entry['path']} of stack {stack}"
        try:
            mode = file_mode(entry.get("permissions"))
        except TypeError as exc:
            raise StackRenderError(f"{where}: permissions {entry.get('permissions')!r} is not a file mode") from exc
        item = {"path": entry["path"], "owner": entry.get("owner") or "root", "group": entry.get("group") or "root",
                "permissions": mode}
        src = file_source(entry, options.get("files_dir", ""))
        if src and src.endswith(".j2"):
            item["content"] = _render(render, src, dict(variables, stack=stack, version=version, variables=variables),
                                      where)
        elif src:
            item["src"] = src
        else:
            item["content"] = entry.get("content") or ""
        if entry.get("encoding"):
            item["encoding"] = entry["encoding"]
        facts["stack_deploy_rendered_files"].append(item)
    return facts


def _render(render, path, template_vars, where):
    try:
        return render(path, template_vars)
    except TemplateNotFound as exc:
        raise StackRenderError(f"{where}: {exc.message}") from exc
    except AnsibleError as exc:
        raise StackRenderError(f"{where}: cannot render the template {path}: {exc.message}") from exc


def find_template(loader, task_vars, path):
    """The file the template lookup would use for ``path`` (``templates/`` subdirectories of the task's search
    path first, as ``LookupBase.find_file_in_search_path`` does), or None."""
    if "ansible_search_path" in task_vars:
        paths = task_vars["ansible_search_path"]
    else:
        paths = [task_vars["role_path"] if "role_path" in task_vars else loader.get_basedir()]
    try:
        return loader.path_dwim_relative_stack(paths, "templates", path, is_role="role_path" in task_vars)
    except AnsibleError:
        return None


def render_template_file(templar, loader, task_vars, path, template_vars):
    """Render the template file ``path`` as ``lookup('ansible.builtin.template', path, template_vars=template_vars)``
    does in ansible-core 2.19, without deep-copying the task's variables (nothing here changes them)."""
    found = find_template(loader, task_vars, path)
    if not found:
        raise TemplateNotFound(f"the template file {path} could not be found")
    template_data = trust_as_template(loader.get_text_file_contents(found))
    searchpath = [os.path.dirname(found)]
    for directory in task_vars.get("ansible_search_path") or []:
        searchpath.extend((os.path.join(directory, "templates"), directory))
    available = dict(task_vars)
    available.update(_template_vars.generate_ansible_template_vars(
        path=path, fullpath=found, include_ansible_managed="ansible_managed" not in available))
    available.update(template_vars)
    data_templar = templar.copy_with_new_env(available_variables=available, searchpath=searchpath)
    # the internal template API, as the lookup: no forced top-level finalization
    options = TemplateOptions(escape_backslashes=False, overrides=_LOOKUP_OVERRIDES)
    return data_templar._engine.template(template_data, options=options)
