# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The local lab: a real Consul cluster on loopback addresses plus fleetlab (the fleet emulator).

Run it with ``python -m lab up|down|status|ensure|consul`` from the repository root.
"""
from __future__ import annotations
