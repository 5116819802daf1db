# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Command line of the lab: ``python -m lab up|down|status|ensure|consul``."""
from __future__ import annotations

import sys

from lab import consul_binary


def main(argv: list[str]) -> int:
    if argv[:1] == ["consul"]:
        return consul_binary.main()
    print("usage: python -m lab consul", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
