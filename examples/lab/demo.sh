#!/usr/bin/env bash
# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The example stack on the lab (`make demo` runs this after `python -m lab ensure`):
# deploy v1, show it passing in Consul and running in fleet, deploy v2 (which replaces v1), show the status.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
lab_dir="${LAB_DIR:-$repo/.lab}"
[ -f "$lab_dir/env" ] || { echo "demo: no lab in $lab_dir (run: make lab-up)" >&2; exit 1; }
# shellcheck disable=SC1091
source "$lab_dir/env"
export ANSIBLE_COLLECTIONS_PATH="$repo/.cache/collections"
export ANSIBLE_CONFIG="$here/ansible.cfg"
export PATH="$repo/.venv/bin:$PATH"
cd "$here"

step() { printf '\n===== %s =====\n' "$*"; }
health() {
  python3 - "$CONSUL_HTTP_ADDR" <<'PY'
import json, sys, urllib.request
entries = json.load(urllib.request.urlopen(f"http://{sys.argv[1]}/v1/health/service/example", timeout=10))
for e in sorted(entries, key=lambda e: e["Service"]["Address"]):
    status = "passing" if all(c["Status"] == "passing" for c in e["Checks"]) else "NOT passing"
    print(f'  {e["Node"]["Node"]:<10} {e["Service"]["Address"]}:{e["Service"]["Port"]:<6} tags={",".join(e["Service"]["Tags"])} {status}')
    answer = json.load(urllib.request.urlopen(f'http://{e["Service"]["Address"]}:{e["Service"]["Port"]}/', timeout=10))
    print(f'             GET / -> version={answer["version"]} config={answer["config"]!r} motd={answer["motd"]!r}')
PY
}

step "Deploy the global stack (node helper on every machine, then the global files)"
ansible-playbook houston.stack.deploy -e stack=global
step "Deploy example v1"
ansible-playbook houston.stack.deploy -e version=v1
step "example in Consul after v1"
health
step "Deploy example v2 (replaces v1)"
ansible-playbook houston.stack.deploy -e version=v2
step "example in Consul after v2"
health
step "Deploy example v2 again: nothing to change (the recap shows changed=0)"
again="$(ansible-playbook houston.stack.deploy -e version=v2)"
printf '%s\n' "$again"
grep -Eq 'localhost +: ok=[0-9]+ +changed=0 ' <<<"$again" || { echo "demo: the repeated deploy changed something" >&2; exit 1; }
step "Status: units, states and versions per machine, Consul health, last deploys"
ansible-playbook houston.stack.status
