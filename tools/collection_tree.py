# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Copy the collection's git-tracked files to ``<dest>/ansible_collections/houston/stack``.

ansible-test and antsibull-docs need the collection under an ``ansible_collections/<ns>/<name>``
tree. The copy holds exactly what a fresh clone holds (tracked files, as they are in the work
tree), so local state (.venv, .lab, caches, test output) never reaches the tools.

usage: python tools/collection_tree.py DEST [--untracked]   (prints the collection directory)
  --untracked  also copy untracked files that .gitignore does not ignore (work in progress)
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
NAMESPACE, NAME = "houston", "stack"


def collection_files(untracked: bool = False) -> list[str]:
    """Paths (relative to the repository) of the files that make up the collection."""
    cmd = ["git", "-C", str(REPO_ROOT), "ls-files", "-z", "--cached"]
    if untracked:
        cmd += ["--others", "--exclude-standard"]
    out = subprocess.run(cmd, check=True, capture_output=True).stdout.decode()
    return sorted({path for path in out.split("\0") if path and (REPO_ROOT / path).is_file()})


def build_tree(dest: Path, untracked: bool = False) -> Path:
    """Copy the collection files into ``dest/ansible_collections/houston/stack``; return that dir."""
    target = Path(dest).resolve() / "ansible_collections" / NAMESPACE / NAME
    if target.exists():
        shutil.rmtree(target)
    for rel in collection_files(untracked):
        src = REPO_ROOT / rel
        dst = target / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), dst)
        else:
            shutil.copy2(src, dst)
    return target


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("--untracked", action="store_true", help="also copy untracked, not ignored files")
    args = parser.parse_args(argv)
    print(build_tree(args.dest, args.untracked))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
