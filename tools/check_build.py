# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Check a built collection tarball: it holds the collection and none of the local state.

usage: python tools/check_build.py houston-stack-X.Y.Z.tar.gz
Fails (exit 1, naming the offending members) when the tarball holds anything under .lab/, .lab-molecule/, .ansible/,
.venv/, .cache/, .git/, bench/results/, tests/output/, __pycache__/ or a nested tarball, or
lacks MANIFEST.json, FILES.json, the essentials (meta/runtime.yml, README.md, LICENSE).
"""
from __future__ import annotations

import sys
import tarfile

FORBIDDEN_PREFIXES = (".lab/", ".lab-molecule/", ".ansible/", ".venv/", ".cache/", ".git/", "bench/results/", "tests/output/",
                      ".pytest_cache/")
FORBIDDEN_PARTS = ("__pycache__",)
REQUIRED = ("MANIFEST.json", "FILES.json", "meta/runtime.yml", "README.md", "LICENSE")


def problems(path: str) -> list[str]:
    """Everything wrong with the tarball at ``path`` (empty when it is fine)."""
    found = []
    with tarfile.open(path, "r:gz") as tar:
        names = [member.name.removeprefix("./") for member in tar.getmembers()]
    for name in names:
        slashed = name + "/"
        if any(slashed.startswith(prefix) for prefix in FORBIDDEN_PREFIXES):
            found.append(f"local state in the tarball: {name}")
        elif any(part in FORBIDDEN_PARTS for part in name.split("/")):
            found.append(f"byte-code cache in the tarball: {name}")
        elif name.endswith((".tar.gz", ".pyc")):
            found.append(f"build artefact in the tarball: {name}")
    for required in REQUIRED:
        if required not in names:
            found.append(f"missing from the tarball: {required}")
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    found = problems(argv[0])
    for problem in found:
        print(f"check_build: {problem}", file=sys.stderr)
    if found:
        return 1
    with tarfile.open(argv[0], "r:gz") as tar:
        count = len(tar.getmembers())
    print(f"check_build: {argv[0]} OK ({count} members, no local state)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
