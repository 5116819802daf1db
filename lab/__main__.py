# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Command line of the lab: ``python -m lab up|down|status|ensure|consul``.

Environment: LAB_DIR (default .lab), LAB_NET (default 127.0.0), LAB_MACHINES (default 3),
LAB_VIRTUAL, LAB_METADATA, LAB_CACHE, LAB_TIMEOUT, LAB_NO_FLEETLAB, LAB_NO_PROCESS. See lab/cluster.py.
Exit status: 0 success (status: healthy), 1 failure or not healthy, 2 usage error.
"""
from __future__ import annotations

import sys

from lab import consul_binary
from lab.cluster import Lab, LabConfig, LabError

USAGE = """usage: python -m lab COMMAND
  up      start Consul (server + one agent per machine) and fleetlab; refuse if running
  down    stop every lab process by PID
  status  print members, leader, fleetlab URL and machines (exit 1 when not healthy)
  ensure  up unless already running and healthy
  consul  print the path of the Consul binary (fetching it if needed)"""


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] in ("-h", "--help", "help"):
        print(USAGE, file=sys.stderr if argv[:1] not in (["-h"], ["--help"], ["help"]) else sys.stdout)
        return 0 if argv[:1] in (["-h"], ["--help"], ["help"]) else 2
    command = argv[0]
    if command == "consul":
        return consul_binary.main()
    try:
        lab = Lab(LabConfig.from_env())
        if command == "up":
            lab.up()
        elif command == "down":
            lab.down()
        elif command == "ensure":
            lab.ensure()
        elif command == "status":
            return 0 if lab.status() else 1
        else:
            print(f"unknown command {command!r}\n{USAGE}", file=sys.stderr)
            return 2
    except (LabError, consul_binary.ConsulBinaryError) as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
