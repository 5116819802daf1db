# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.

"""File archives for a stack: write_files entries -> deterministic tar.gz -> Consul KV (chunks, manifest last).

KV layout under ``<prefix>`` (default ``houston/<stack>/archives``)::

    <prefix>/<sha256>/chunks/0 .. N-1   raw bytes, each <= CHUNK_SIZE (512 KiB - 1 KiB)
    <prefix>/<sha256>/manifest          JSON, written LAST with a cas=0 transaction (the commit point)

Readers (the extraction unit) only trust an archive whose manifest exists, and verify the sha256.
"""

from __future__ import annotations

import base64
import concurrent.futures
import binascii
import gzip
import hashlib
import io
import json
import re
import tarfile
import time

from ansible_collections.houston.stack.plugins.module_utils._consul import ConsulError, TxnConflict
from ansible_collections.houston.stack.plugins.module_utils._naming import archive_unit_name, marker_text

CHUNK_SIZE = 512 * 1024 - 1024
UPLOAD_WORKERS = 4  # chunks written at the same time
DEFAULT_MAX_SIZE = 64 * 1024 * 1024
MANIFEST_FORMAT = 1
ARCHIVE_MTIME = 0
DEFAULT_TOKEN_FILE = "/etc/houston/consul-token"
# Owner/group names whose numeric id is the same on every CoreOS host; other names are stored with the
# id of "nobody" so that a name unknown on the target never falls back to root.
KNOWN_IDS = {"root": 0, "core": 500}
NOBODY_ID = 65534
MAX_EXEC_LINE = 1024

_MODE_RE = re.compile(r"^(?:0o|0)?([0-7]{1,4})$")
_OWNER_RE = re.compile(r"^(?:[a-z_][a-z0-9_.-]{0,31}|[0-9]{1,10})$")
_HEX_RE = re.compile(r"^[0-9a-f]{8,64}$")


class ArchiveError(ValueError):
    """A write_files entry or archive the collection refuses (the message names the entry and why)."""


# -- write_files entries -------------------------------------------------------------------------------

def parse_mode(value, where="file"):
    """File mode from an octal string ('0644', '644', '0o644') or an int (the numeric mode, e.g. 0o644)."""
    if isinstance(value, bool):
        raise ArchiveError(f"{where}: permissions {value!r} is not a file mode")
    if isinstance(value, int):
        if 0 <= value <= 0o7777:
            return value
        raise ArchiveError(f"{where}: permissions {value!r} is out of range (0 to 0o7777)")
    match = _MODE_RE.match(str(value).strip())
    if not match:
        raise ArchiveError(f"{where}: permissions {value!r} is not an octal mode such as '0644'")
    return int(match.group(1), 8)


def validate_path(path):
    """Return the archive member name (relative) for an absolute, normalised target path."""
    if not isinstance(path, str) or not path:
        raise ArchiveError(f"file path {path!r} must be a non-empty string")
    if not path.startswith("/"):
        raise ArchiveError(f"file path {path!r} must be absolute")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in path) or "\\" in path:
        raise ArchiveError(f"file path {path!r} contains control characters or backslashes")
    if path.endswith("/"):
        raise ArchiveError(f"file path {path!r} names a directory; give a file path")
    parts = path[1:].split("/")
    for part in parts:
        if part == "..":
            raise ArchiveError(f"file path {path!r} must not contain '..'")
        if part in ("", "."):
            raise ArchiveError(f"file path {path!r} is not normalised (empty or '.' component)")
    return "/".join(parts)


def _owner(value, kind, where):
    value = "root" if value is None or value == "" else str(value).strip()
    if not _OWNER_RE.match(value):
        raise ArchiveError(f"{where}: {kind} {value!r} is not a user/group name or a numeric id")
    if value.isdigit():
        return "", int(value)
    return value, KNOWN_IDS.get(value, NOBODY_ID)


def decode_content(entry, where):
    """The bytes of an entry's ``content`` according to its ``encoding``."""
    if entry.get("src") not in (None, ""):
        raise ArchiveError(f"{where}: 'src' must be read on the controller by the consul_archive action plugin; "
                           "pass 'content' when calling the module directly")
    if "content" not in entry or entry.get("content") is None:
        raise ArchiveError(f"{where}: give 'content' or 'src' (use content: '' for an empty file)")
    content = entry["content"]
    encoding = (entry.get("encoding") or "plain").lower()
    if encoding in ("b64", "base64"):
        if isinstance(content, bytes):
            content = content.decode("ascii", "replace")
        try:
            return base64.b64decode("".join(str(content).split()), validate=True)
        except (binascii.Error, ValueError) as e:
            raise ArchiveError(f"{where}: content is not valid base64 ({e})") from e
    if encoding != "plain":
        raise ArchiveError(f"{where}: encoding {encoding!r} is not one of b64, base64, plain")
    if isinstance(content, bytes):
        raise ArchiveError(f"{where}: binary content needs encoding: b64 (give the content base64-encoded)")
    content = str(content)
    if "\x00" in content:
        raise ArchiveError(f"{where}: content contains NUL bytes; binary content needs encoding: b64")
    try:
        return content.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ArchiveError(f"{where}: content is not valid text ({e}); binary content needs encoding: b64") from e


def normalize_files(files, max_size=DEFAULT_MAX_SIZE):
    """Validate write_files entries; return them sorted by path as dicts with ``data`` bytes and ids."""
    if not isinstance(files, list):
        raise ArchiveError("files must be a list of write_files entries")
    seen = {}
    result = []
    total = 0
    for number, entry in enumerate(files, start=1):
        if not isinstance(entry, dict):
            raise ArchiveError(f"files entry #{number} must be a mapping, got {type(entry).__name__}")
        path = entry.get("path")
        where = f"files entry #{number} ({path!r})"
        member = validate_path(path)
        if member in seen:
            raise ArchiveError(f"{where}: duplicate path, already given by entry #{seen[member]}")
        seen[member] = number
        data = decode_content(entry, where)
        total += len(data)
        if total > max_size:
            raise ArchiveError(f"files: the contents add up to more than the size cap of {max_size} bytes "
                               f"(reached at {where}, {len(data)} bytes); Consul is not a blob store")
        owner, uid = _owner(entry.get("owner"), "owner", where)
        group, gid = _owner(entry.get("group"), "group", where)
        mode = parse_mode(entry.get("permissions", "0644") if entry.get("permissions") is not None else "0644", where)
        result.append({"path": "/" + member, "member": member, "data": data, "mode": mode,
                       "owner": owner, "uid": uid, "group": group, "gid": gid})
    result.sort(key=lambda e: e["member"])
    return result


def file_manifest(entries):
    """Public description of the archive's files (no contents): path, sha256, mode, owner, group, size."""
    return [{"path": e["path"], "sha256": hashlib.sha256(e["data"]).hexdigest(), "mode": "%04o" % e["mode"],
             "owner": e["owner"] or str(e["uid"]), "group": e["group"] or str(e["gid"]), "size": len(e["data"])}
            for e in entries]


# -- the tarball ---------------------------------------------------------------------------------------

def build_archive(entries):
    """Deterministic tar.gz bytes: sorted members, fixed mtime, explicit ids/names/modes, gzip mtime 0."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for e in sorted(entries, key=lambda x: x["member"]):
            info = tarfile.TarInfo(e["member"])
            info.size = len(e["data"])
            info.mtime = ARCHIVE_MTIME
            info.mode = e["mode"]
            info.type = tarfile.REGTYPE
            info.uid, info.gid = e["uid"], e["gid"]
            info.uname, info.gname = e["owner"], e["group"]
            tar.addfile(info, io.BytesIO(e["data"]))
    packed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=packed, mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return packed.getvalue()


def split_chunks(data, size=CHUNK_SIZE):
    """Chunks of at most ``size`` bytes (one empty chunk for empty data)."""
    if not data:
        return [b""]
    return [data[i:i + size] for i in range(0, len(data), size)]


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


# -- KV layout -----------------------------------------------------------------------------------------

def default_prefix(stack):
    return f"houston/{stack}/archives"


def validate_prefix(prefix):
    prefix = (prefix or "").strip("/")
    if not prefix or not re.match(r"^[A-Za-z0-9._/-]+$", prefix) or ".." in prefix or "//" in prefix:
        raise ArchiveError(f"key_prefix {prefix!r} must be a KV path of [A-Za-z0-9._/-] without '..' or empty components")
    return prefix


def archive_key(prefix, sha):
    return f"{prefix}/{sha}"


def manifest_key(prefix, sha):
    return f"{prefix}/{sha}/manifest"


def chunk_key(prefix, sha, index):
    return f"{prefix}/{sha}/chunks/{index}"


def build_manifest(stack, data, chunks, files):
    return {
        "format": MANIFEST_FORMAT,
        "stack": stack,
        "sha256": sha256_hex(data),
        "size": len(data),
        "chunk_size": CHUNK_SIZE,
        "chunks": len(chunks),
        "chunk_sha256": [sha256_hex(c) for c in chunks],
        "files": files,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


class ArchiveStore:
    """Archives of one stack in Consul KV under ``prefix``."""

    def __init__(self, client, prefix):
        self.client = client
        self.prefix = validate_prefix(prefix)

    def manifest(self, sha):
        """(manifest dict, ModifyIndex) of a committed archive, or (None, 0)."""
        return self.client.kv_get_json(manifest_key(self.prefix, sha))

    def chunk_keys(self, sha):
        return self.client.kv_keys(f"{self.prefix}/{sha}/chunks/")

    def is_complete(self, sha, manifest):
        """True when the manifest matches ``sha`` and every chunk it lists is stored."""
        if not manifest or manifest.get("sha256") != sha:
            return False
        wanted = {chunk_key(self.prefix, sha, i) for i in range(int(manifest.get("chunks") or 0))}
        return wanted.issubset(set(self.chunk_keys(sha)))

    def upload(self, data, manifest, lock_key=None, session=None):
        """Write the chunks, then commit the manifest (cas=0, fenced by the lock session when given).

        Returns the operations in the order they were sent (for tests and logs): ("put", key) / ("txn", keys).
        """
        sha = manifest["sha256"]
        done = []
        existing, index = self.manifest(sha)
        if existing is not None:
            # a manifest whose chunks are gone: withdraw it first so no reader trusts it while chunks are rewritten
            self.client.kv_delete(manifest_key(self.prefix, sha), cas=index)
            done.append(("delete", manifest_key(self.prefix, sha)))
        chunks = split_chunks(data, manifest["chunk_size"])
        keys = [chunk_key(self.prefix, sha, i) for i in range(len(chunks))]

        def put(index):
            if not self.client.kv_put(keys[index], chunks[index]):
                raise ConsulError(f"write of archive chunk {keys[index]!r} was refused by Consul {self.client.url}")

        # The chunks are independent keys: write a few at a time (each PUT waits for a Raft commit). Nothing reads
        # them before the manifest below is committed, which happens only once every chunk is stored.
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(UPLOAD_WORKERS, len(chunks))) as pool:
            for future in [pool.submit(put, i) for i in range(len(chunks))]:
                future.result()
        done.extend(("put", key) for key in keys)
        ops = []
        if session:
            ops.append({"Verb": "check-session", "Key": lock_key, "Session": session})
        ops.append({"Verb": "cas", "Key": manifest_key(self.prefix, sha), "Index": 0,
                    "Value": json.dumps(manifest, sort_keys=True).encode("utf-8")})
        try:
            self.client.txn(ops, what=f"commit of archive manifest {manifest_key(self.prefix, sha)!r}")
        except TxnConflict as e:
            if session and any(err.get("OpIndex") == 0 for err in e.errors):
                raise ConsulError(f"the deploy lock {lock_key!r} is no longer held by session {session}; "
                                  f"archive {sha} not committed: {e}") from e
            raise
        done.append(("txn", [op["Key"] for op in ops]))
        return done

    def archives(self):
        """Stored archives, newest first: [{sha256, committed (bool), index, created}]."""
        by_sha = {}
        for key in self.client.kv_keys(self.prefix + "/"):
            rest = key[len(self.prefix) + 1:]
            sha = rest.split("/", 1)[0]
            if _HEX_RE.match(sha) and len(sha) == 64:
                by_sha.setdefault(sha, set()).add(rest[len(sha) + 1:])
        result = []
        for sha, names in by_sha.items():
            entry = {"sha256": sha, "committed": "manifest" in names, "index": 0, "created": None, "files": []}
            if entry["committed"]:
                manifest, index = self.manifest(sha)
                entry["index"] = index
                if manifest:
                    entry["created"] = manifest.get("created")
                    entry["files"] = manifest.get("files") or []
            result.append(entry)
        result.sort(key=lambda e: (e["committed"], e["index"]), reverse=True)
        return result

    def plan_prune(self, keep, current=None, protect=()):
        """The sha256 of archives to delete: all but the current, the protected and the newest ``keep`` in total.

        Uncommitted uploads (chunks without manifest) are always removed. ``keep`` 0 disables pruning.
        """
        if keep <= 0:
            return []
        protect = [p.lower() for p in protect or []]
        kept = 1 if current else 0
        remove = []
        for entry in self.archives():
            sha = entry["sha256"]
            if sha == current or any(sha.startswith(p) for p in protect):
                continue
            if entry["committed"] and kept < keep:
                kept += 1
                continue
            remove.append(sha)
        return remove

    def delete(self, sha):
        """Delete one archive: the manifest first (readers stop trusting it), then the rest of its subtree."""
        self.client.kv_delete(manifest_key(self.prefix, sha))
        self.client.kv_delete(archive_key(self.prefix, sha) + "/", recurse=True)


def match_protect(values):
    """Validate ``protect`` entries (sha256 or a prefix of at least 8 hex characters)."""
    result = []
    for value in values or []:
        value = str(value).strip().lower()
        if not _HEX_RE.match(value):
            raise ArchiveError(f"protect entry {value!r} is not a sha256 or a prefix of at least 8 hex characters")
        result.append(value)
    return result


# -- the extraction unit -------------------------------------------------------------------------------

# Shell fragments for the extraction unit. systemd expands $VAR and %x itself, so the unit text uses $$
# for every shell dollar sign and avoids % and backslashes; single quotes only delimit the sh -c script.
_PRELUDE = (
    'a=$${CONSUL_HTTP_ADDR:-127.0.0.1:8500}; case "$$a" in *://*) ;; *) a=http://$$a ;; esac; '
    'r=$${FLEETLAB_ROOT:-}; d=$$r/var/lib/houston/archives/$$HOUSTON_ARCHIVE_KEY; tf=$$r$$HOUSTON_TOKEN_FILE; '
    'c() { t=; if [ -r "$$tf" ]; then read -r t < "$$tf"; fi; '
    'if [ -n "$$t" ]; then echo "header = X-Consul-Token:$$t"; fi | '
    'curl -K - -fsS --retry 30 --retry-delay 1 --retry-connrefused --max-time 120 "$$@"; }; '
)

_STEPS = [
    ("ExecStartPre", 'c --create-dirs -o "$$d/manifest" "$$a/v1/kv/$$HOUSTON_ARCHIVE_KEY/manifest?raw" '
                     '|| { echo "archive $$HOUSTON_ARCHIVE_KEY has no manifest at $$a" >&2; exit 1; }'),
    # One curl fetches the chunks, 8 at a time, each into its own file (URL globbing), then joins them in order.
    ("ExecStartPre", 'm=$$((HOUSTON_ARCHIVE_CHUNKS-1)); c --parallel --parallel-max 8 -o "$$d/chunk.#1" '
                     '"$$a/v1/kv/$$HOUSTON_ARCHIVE_KEY/chunks/[0-$$m]?raw" '
                     '|| { echo "download of the chunks of $$HOUSTON_ARCHIVE_KEY failed" >&2; exit 1; }; '
                     'curl -fsS "file://$$d/chunk.[0-$$m]" > "$$d/archive.tar.gz" || exit 1; '
                     'i=0; while [ "$$i" -le "$$m" ]; do : > "$$d/chunk.$$i"; i=$$((i+1)); done'),
    ("ExecStartPre", 'echo "$$HOUSTON_ARCHIVE_SHA256  $$d/archive.tar.gz" | sha256sum -c --status - '
                     '|| { echo "archive $$HOUSTON_ARCHIVE_KEY: sha256 mismatch" >&2; exit 1; }'),
    ("ExecStartPre", 'tar -tzf "$$d/archive.tar.gz" > "$$d/members" || exit 1; while IFS= read -r m; do case "$$m" in '
                     '/*|..|../*|*/..|*/../*) echo "refusing unsafe archive member: $$m" >&2; exit 1 ;; esac; '
                     'done < "$$d/members"; tar -tvzf "$$d/archive.tar.gz" > "$$d/types" || exit 1; '
                     'while read -r t rest; do case "$$t" in -*) ;; *) echo "refusing non-regular archive member: $$rest" >&2; '
                     'exit 1 ;; esac; done < "$$d/types"'),
    ("ExecStart", 'tar -xzpmf "$$d/archive.tar.gz" --no-overwrite-dir -C "$$r$$HOUSTON_EXTRACT_ROOT" '
                  '&& : > "$$d/archive.tar.gz"'),
]


def validate_extract_root(root):
    root = root or "/"
    if not root.startswith("/") or ".." in root.split("/") or not re.match(r"^[A-Za-z0-9._/-]+$", root):
        raise ArchiveError(f"extract_root {root!r} must be an absolute path of [A-Za-z0-9._/-] without '..'")
    return root if root.endswith("/") else root + "/"


def extraction_unit(stack, sha, prefix, chunks, machine_metadata=None, token_file=DEFAULT_TOKEN_FILE, extract_root="/"):
    """(unit name, unit text) of the oneshot unit that fetches, verifies and extracts the archive on every machine."""
    name = archive_unit_name(stack, sha)
    version = name.split("@", 1)[1].rsplit(".", 1)[0]
    if token_file and (not token_file.startswith("/") or not re.match(r"^[A-Za-z0-9._/-]+$", token_file)):
        raise ArchiveError(f"token_file {token_file!r} must be an absolute path of [A-Za-z0-9._/-]")
    lines = [
        "[Unit]",
        f"Description=houston.stack files of stack {stack} (archive {sha[:12]})",
        "",
        "[Service]",
        "Type=oneshot",
        "RemainAfterExit=yes",
        "TimeoutStartSec=600",
        f"Environment=HOUSTON_ARCHIVE_KEY={archive_key(prefix, sha)}",
        f"Environment=HOUSTON_ARCHIVE_SHA256={sha}",
        f"Environment=HOUSTON_ARCHIVE_CHUNKS={int(chunks)}",
        f"Environment=HOUSTON_EXTRACT_ROOT={validate_extract_root(extract_root)}",
        f"Environment=HOUSTON_TOKEN_FILE={token_file or '/nonexistent'}",
    ]
    for directive, script in _STEPS:
        lines.append(f"{directive}=/bin/sh -c '{_PRELUDE}{script}'")
    lines += ["", "[X-Fleet]", "Global=true"]
    for item in machine_metadata or []:
        if not re.match(r"^[A-Za-z0-9._-]+=[A-Za-z0-9._:-]+$", str(item)):
            raise ArchiveError(f"machine_metadata entry {item!r} must look like key=value")
        lines.append(f"MachineMetadata={item}")
    text = "\n".join(lines) + "\n\n" + marker_text(stack, version)
    for line in text.splitlines():
        if len(line.encode("utf-8")) > MAX_EXEC_LINE:
            raise ArchiveError(f"extraction unit line too long ({len(line)} bytes): {line[:60]}...")
    return name, text
