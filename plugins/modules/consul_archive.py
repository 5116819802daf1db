#!/usr/bin/python
# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: consul_archive
short_description: Store a stack's files in Consul KV as a deterministic archive and render its extraction unit
version_added: 1.0.0
description:
  - Builds a deterministic C(tar.gz) from a C(write_files) list (members sorted by path, fixed mtime, explicit owner,
    group and mode, gzip header without timestamp) and names it by its sha256.
  - Stores it in Consul KV under O(key_prefix) as chunks of at most 523264 bytes (512 KiB minus 1 KiB, under Consul's
    default value limit), then commits a small JSON manifest B(last) with a check-and-set transaction, so readers never
    see a partial upload.
  - An archive whose manifest is already stored with all its chunks is not uploaded again (C(changed=false)).
  - Removes older archives of the stack, keeping O(keep) in total, never the current one nor those listed in O(protect).
  - Returns the text of the extraction unit, a global oneshot unit that, on every machine, fetches the archive from the
    machine's local Consul agent (E(CONSUL_HTTP_ADDR), default V(127.0.0.1:8500)) with a bounded retry, checks its
    sha256, refuses absolute, C(..) and non-regular members, and extracts it under C(${FLEETLAB_ROOT}/) plus
    O(extract_root), keeping modes (and owners when it runs as root). It reads a Consul token from O(token_file) on the
    machine when that file exists; the token is never part of the unit text, because fleet's API has no authentication.
    The unit uses only C(sh), C(curl), C(tar), C(sha256sum) and C(base64).
  - The action plugin of the same name reads O(files[].src) on the controller (role C(files/) directories first) and
    passes the contents to the module.
author:
  - houston.stack contributors (@houston-stack)
extends_documentation_fragment:
  - houston.stack._consul
  - houston.stack._consul.actiongroup_consul
  - houston.stack._attributes
attributes:
  check_mode:
    support: full
    details:
      - Check mode builds the archive, reads the manifest key to predict C(changed), lists what pruning would remove,
        and writes nothing.
  diff_mode:
    support: full
    details:
      - The diff is the file list (path, mode, owner, group, sha256) of the newest stored archive and of this one.
  idempotent:
    support: full
options:
  stack:
    description:
      - Name of the stack the files belong to. It names the KV prefix and the extraction unit
        (V(<stack>-file-deploy@<sha8>.service); the stack V(global) gives V(global-file-deploy@<sha8>.service)).
    type: str
    required: true
  files:
    description:
      - The C(write_files) entries. Required unless O(state=absent) with O(sha256).
      - Paths must be absolute, normalised, without C(..) and unique.
    type: list
    elements: dict
    suboptions:
      path:
        description: Absolute path of the file on the machine (under C(${FLEETLAB_ROOT}) in the lab).
        type: str
        required: true
      content:
        description:
          - The file's content. Text unless O(files[].encoding) says V(b64).
          - Binary content (NUL bytes, invalid text) without O(files[].encoding=b64) is an error.
          - Mutually exclusive with O(files[].src).
        type: str
      src:
        description:
          - A file on the controller whose bytes become the content, looked up like C(ansible.builtin.copy) does (the
            role's C(files/) directory, then the playbook's). Read by the action plugin; binary files need no encoding.
        type: str
      owner:
        description:
          - Owner name or numeric uid. V(root) and V(core) map to their fixed ids; other names are stored with the id
            65534 and resolved by name on the machine.
        type: str
        default: root
      group:
        description: Group name or numeric gid (same rules as O(files[].owner)).
        type: str
        default: root
      permissions:
        description: Mode as an octal string such as V('0644') or an integer mode.
        type: raw
        default: '0644'
      encoding:
        description: Encoding of O(files[].content). V(b64) and V(base64) are the same.
        type: str
        choices: [b64, base64, plain]
        default: plain
  state:
    description:
      - V(present) stores the archive; V(absent) deletes the archive given by O(sha256) (or built from O(files)).
    type: str
    choices: [present, absent]
    default: present
  sha256:
    description: With O(state=absent), the sha256 (or a prefix of at least 8 hex characters) of the archive to delete.
    type: str
  key_prefix:
    description: KV prefix of the stack's archives. Defaults to V(houston/<stack>/archives).
    type: str
  keep:
    description:
      - How many archives of the stack to keep in total, the current one included; older ones are deleted.
        Uncommitted uploads (chunks without a manifest) are always deleted. V(0) disables pruning.
    type: int
    default: 3
  protect:
    description:
      - Archives never pruned, by sha256 or a prefix of at least 8 hex characters (for example the C(<sha8>) of
        extraction units still deployed).
    type: list
    elements: str
    default: []
  max_size:
    description: Size cap in bytes for the files' contents and for the compressed archive.
    type: int
    default: 67108864
  machine_metadata:
    description: C(MachineMetadata=) constraints (V(key=value)) of the extraction unit, to limit it to the stack's machines.
    type: list
    elements: str
    default: []
  token_file:
    description:
      - Path on the machine of a file holding the Consul token the extraction unit sends, when that file exists.
    type: str
    default: /etc/houston/consul-token
  extract_root:
    description: Directory (on the machine, below C(${FLEETLAB_ROOT})) the archive is extracted into.
    type: str
    default: /
  lock_session:
    description:
      - Session holding the stack's deploy lock (RV(houston.stack.consul_lock#module:session)). When given, the manifest
        commit is fenced by it, so a deploy that lost its lock cannot publish an archive.
    type: str
seealso:
  - module: houston.stack.fleet_unit
    description: Submit the returned RV(unit_content) under RV(unit_name).
  - module: houston.stack.consul_lock
"""

EXAMPLES = r"""
- name: Store the example stack's files in Consul
  houston.stack.consul_archive:
    stack: example
    files:
      - path: /etc/example/app.conf
        content: |
          listen=0.0.0.0:8080
        permissions: "0640"
        owner: root
        group: core
      - path: /opt/example/bin/tool
        src: tool
        permissions: "0755"
    keep: 3
  delegate_to: localhost
  register: example_archive

- name: Launch the extraction unit on every machine
  houston.stack.fleet_unit:
    name: "{{ example_archive.unit_name }}"
    content: "{{ example_archive.unit_content }}"
  delegate_to: localhost

- name: Delete an archive
  houston.stack.consul_archive:
    stack: example
    state: absent
    sha256: 0a1b2c3d
  delegate_to: localhost
"""

RETURN = r"""
sha256:
  description: The sha256 of the C(tar.gz).
  returned: success
  type: str
  sample: 0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9
key:
  description: The KV prefix of this archive (its chunks are under C(<key>/chunks/), its manifest is C(<key>/manifest)).
  returned: success
  type: str
  sample: houston/example/archives/0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9
size:
  description: Size of the C(tar.gz) in bytes.
  returned: when state=present
  type: int
  sample: 4096
chunks:
  description: Number of KV chunks.
  returned: when state=present
  type: int
  sample: 1
uploaded:
  description: Whether the archive was (or, in check mode, would be) uploaded.
  returned: when state=present
  type: bool
  sample: true
unit_name:
  description: Name of the extraction unit.
  returned: when state=present
  type: str
  sample: example-file-deploy@0a1b2c3d.service
unit_content:
  description: Text of the extraction unit, with the C([X-Houston]) marker.
  returned: when state=present
  type: str
manifest:
  description: The archive's files (no contents).
  returned: when state=present
  type: list
  elements: dict
  contains:
    path: {description: Path on the machine., type: str, returned: always}
    sha256: {description: sha256 of the content., type: str, returned: always}
    mode: {description: Octal mode., type: str, returned: always, sample: "0644"}
    owner: {description: Owner name (or uid)., type: str, returned: always}
    group: {description: Group name (or gid)., type: str, returned: always}
    size: {description: Size in bytes., type: int, returned: always}
pruned:
  description: sha256 of the archives deleted (in check mode, that would be deleted).
  returned: success
  type: list
  elements: str
elapsed:
  description: Seconds the call took (the deploy report's C(archive) timing).
  returned: success
  type: float
  sample: 0.21
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.houston.stack.plugins.module_utils._archive import (
    ArchiveError, ArchiveStore, DEFAULT_MAX_SIZE, DEFAULT_TOKEN_FILE, build_archive, build_manifest, default_prefix,
    extraction_unit, file_manifest, match_protect, normalize_files, sha256_hex, split_chunks,
)
from ansible_collections.houston.stack.plugins.module_utils._consul import CONSUL_ARGSPEC, ConsulClient, ConsulError
from ansible_collections.houston.stack.plugins.module_utils._naming import InvalidName, validate_stack

FILE_SPEC = dict(
    path=dict(type="str", required=True),
    content=dict(type="str"),
    src=dict(type="str"),
    owner=dict(type="str", default="root"),
    group=dict(type="str", default="root"),
    permissions=dict(type="raw", default="0644"),
    encoding=dict(type="str", choices=["b64", "base64", "plain"], default="plain"),
)


def describe(files):
    """Diff text: one line per file (path, mode, owner:group, size, sha256)."""
    return "".join(f"{f['path']} mode={f['mode']} owner={f['owner']}:{f['group']} size={f['size']} sha256={f['sha256']}\n"
                   for f in files or [])


def present(module, store, stack):
    params = module.params
    entries = normalize_files(params["files"] or [], max_size=params["max_size"])
    data = build_archive(entries)
    if len(data) > params["max_size"]:
        raise ArchiveError(f"the archive is {len(data)} bytes, over the size cap of {params['max_size']} bytes")
    sha = sha256_hex(data)
    chunks = split_chunks(data)
    files = file_manifest(entries)
    stored, _index = store.manifest(sha)
    upload = not store.is_complete(sha, stored)
    previous = None
    for entry in store.archives():
        if entry["committed"] and entry["sha256"] != sha:
            previous = entry
            break
    pruned = store.plan_prune(params["keep"], current=sha, protect=match_protect(params["protect"]))
    if not module.check_mode:
        if upload:
            lock_key = f"houston/{stack}/lock"
            store.upload(data, build_manifest(stack, data, chunks, files), lock_key=lock_key, session=params["lock_session"])
        for old in pruned:
            store.delete(old)
    unit_name, unit_content = extraction_unit(
        stack, sha, store.prefix, len(chunks), machine_metadata=params["machine_metadata"],
        token_file=params["token_file"], extract_root=params["extract_root"])
    result = dict(changed=upload or bool(pruned), sha256=sha, key=f"{store.prefix}/{sha}", size=len(data),
                  chunks=len(chunks), uploaded=upload, unit_name=unit_name, unit_content=unit_content,
                  manifest=files, pruned=pruned)
    if module._diff:
        before = files if not upload else (previous or {}).get("files") or []
        result["diff"] = dict(before=describe(before), after=describe(files),
                              before_header=f"consul:{store.prefix}/{(previous or {}).get('sha256', '') if upload else sha}",
                              after_header=f"consul:{store.prefix}/{sha}")
    return result


def absent(module, store):
    params = module.params
    if params["sha256"]:
        wanted = match_protect([params["sha256"]])[0]
    elif params["files"] is not None:
        entries = normalize_files(params["files"], max_size=params["max_size"])
        wanted = sha256_hex(build_archive(entries))
    else:
        raise ArchiveError("state=absent needs sha256 or files to know which archive to delete")
    matches = [a for a in store.archives() if a["sha256"].startswith(wanted)]
    if len(matches) > 1:
        raise ArchiveError(f"sha256 prefix {wanted!r} matches {len(matches)} archives; give more characters")
    removed = [m["sha256"] for m in matches]
    if removed and not module.check_mode:
        store.delete(removed[0])
    result = dict(changed=bool(removed), sha256=removed[0] if removed else wanted,
                  key=f"{store.prefix}/{removed[0] if removed else wanted}", pruned=removed)
    if module._diff and removed:
        result["diff"] = dict(before=describe(matches[0]["files"]), after="")
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            stack=dict(type="str", required=True),
            files=dict(type="list", elements="dict", options=FILE_SPEC,
                       mutually_exclusive=[["content", "src"]]),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            sha256=dict(type="str"),
            key_prefix=dict(type="str", no_log=False),
            keep=dict(type="int", default=3),
            protect=dict(type="list", elements="str", default=[]),
            max_size=dict(type="int", default=DEFAULT_MAX_SIZE),
            machine_metadata=dict(type="list", elements="str", default=[]),
            token_file=dict(type="str", default=DEFAULT_TOKEN_FILE, no_log=False),
            extract_root=dict(type="str", default="/"),
            lock_session=dict(type="str"),
            **CONSUL_ARGSPEC
        ),
        required_if=[("state", "present", ("files",))],
        supports_check_mode=True,
    )
    params = module.params
    started = time.monotonic()
    try:
        stack = validate_stack(params["stack"])
        if params["keep"] < 0:
            raise ArchiveError("keep must be 0 (no pruning) or more")
        store = ArchiveStore(ConsulClient.from_params(params), params["key_prefix"] or default_prefix(stack))
        result = present(module, store, stack) if params["state"] == "present" else absent(module, store)
    except (ArchiveError, InvalidName) as e:
        module.fail_json(msg=f"consul_archive for stack {params['stack']!r}: {e}")
    except ConsulError as e:
        module.fail_json(msg=f"consul_archive for stack {params['stack']!r}: {e}", status=e.status)
    module.exit_json(elapsed=round(time.monotonic() - started, 3), **result)


if __name__ == "__main__":
    main()
