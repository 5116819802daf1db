# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The execution environment definition: what ansible-builder reads from meta/execution-environment.yml.

ansible-builder 3 always sanitizes in ``introspect`` (the old ``--sanitize`` flag is gone): it
reads the collection's EE metadata, combines the requirement files and drops what the EE already
provides. The tests run it on a copy of the collection tree laid out as a collections path, and
check that every third-party Python import of the plugins is covered by the declared requirements.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILDER = Path(sys.executable).parent / "ansible-builder"
IGNORE = shutil.ignore_patterns(".git", ".venv", ".cache", ".lab*", ".tox", "__pycache__", "*.pyc", "node_modules", ".pytest_cache")
# Import roots the EE provides without a requirement: the standard library and ansible-core itself.
PROVIDED = set(sys.stdlib_module_names) | {"ansible", "ansible_collections", "__future__"}
# Python distribution name for an import name, where they differ.
DISTRIBUTIONS = {"yaml": "pyyaml", "consul": "py-consul"}


@pytest.fixture(name="collections_path", scope="module")
def fixture_collections_path(tmp_path_factory):
    root = tmp_path_factory.mktemp("ee")
    shutil.copytree(REPO_ROOT, root / "ansible_collections" / "houston" / "stack", ignore=IGNORE, symlinks=False)
    return root


def ee_metadata():
    return yaml.safe_load((REPO_ROOT / "meta" / "execution-environment.yml").read_text(encoding="utf-8"))


def requirement_names(path: Path) -> set:
    names = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            for separator in "<>=!~;[ ":
                line = line.split(separator, 1)[0]
            names.add(line.lower().replace("_", "-"))
    return names


def plugin_imports() -> dict:
    """Top-level import names of every plugin file (modules, module_utils, lookups, actions...) -> first file using it."""
    found = {}
    for path in sorted((REPO_ROOT / "plugins").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], str(path.relative_to(REPO_ROOT)))
    return found


def introspect(collections_path: Path, *extra) -> dict:
    process = subprocess.run([str(BUILDER), "introspect", *extra, str(collections_path)],
                             capture_output=True, text=True, check=False)
    assert process.returncode == 0, process.stdout + process.stderr
    return yaml.safe_load(process.stdout)


def test_metadata_is_schema_v1_with_existing_files():
    metadata = ee_metadata()
    assert metadata["version"] == 1
    for kind in ("python", "system"):
        assert (REPO_ROOT / metadata["dependencies"][kind]).is_file(), metadata["dependencies"][kind]


def test_introspect_reports_the_declared_requirements_of_the_collection(collections_path):
    metadata = ee_metadata()
    report = introspect(collections_path)
    declared_python = requirement_names(REPO_ROOT / metadata["dependencies"]["python"])
    reported_python = {entry.split("#", 1)[0].strip() for entry in report.get("python") or []}
    assert requirement_names_from_lines(reported_python) == declared_python
    assert all(entry.endswith("# from collection houston.stack") for entry in report.get("python") or [])
    declared_system = [line.split("#", 1)[0].strip() for line in (REPO_ROOT / metadata["dependencies"]["system"]).read_text().splitlines()]
    declared_system = [line for line in declared_system if line]
    reported_system = [entry.split("#", 1)[0].strip() for entry in report.get("system") or []]
    assert reported_system == declared_system


def requirement_names_from_lines(lines) -> set:
    names = set()
    for line in lines:
        for separator in "<>=!~;[ ":
            line = line.split(separator, 1)[0]
        if line:
            names.add(line.lower().replace("_", "-"))
    return names


def test_every_third_party_import_of_the_plugins_is_a_declared_requirement():
    declared = requirement_names(REPO_ROOT / ee_metadata()["dependencies"]["python"])
    missing = {
        name: where for name, where in plugin_imports().items()
        if name not in PROVIDED and DISTRIBUTIONS.get(name, name).lower().replace("_", "-") not in declared
        # PyYAML, Jinja2 and MarkupSafe come with ansible-core
        and name not in ("yaml", "jinja2", "markupsafe")
    }
    assert not missing, "imported by plugins but missing from %s: %s" % (ee_metadata()["dependencies"]["python"], missing)


def test_write_files_combine_into_an_ee_build(collections_path, tmp_path):
    """What ansible-builder create/build would install: the combined files it writes."""
    pip_file, bindep_file = tmp_path / "requirements.txt", tmp_path / "bindep.txt"
    introspect(collections_path, "--write-pip", str(pip_file), "--write-bindep", str(bindep_file))
    assert "ca-certificates" in bindep_file.read_text(encoding="utf-8")
    declared = requirement_names(REPO_ROOT / ee_metadata()["dependencies"]["python"])
    # ansible-builder writes no pip file when there is nothing to install
    assert (requirement_names(pip_file) if pip_file.exists() else set()) == declared
