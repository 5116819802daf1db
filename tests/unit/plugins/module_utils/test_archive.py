# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Archive building: write_files validation, deterministic tar.gz, chunking, extraction unit text."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import tarfile

import pytest

from ansible_collections.houston.stack.plugins.module_utils import _archive as A


def build(files):
    return A.build_archive(A.normalize_files(files))


FILES = [
    {"path": "/etc/app/b.conf", "content": "b\n", "permissions": "0600", "owner": "core", "group": "core"},
    {"path": "/etc/app/a.conf", "content": "a\n"},
    {"path": "/opt/bin/tool", "content": base64.b64encode(bytes(range(256))).decode(), "encoding": "b64",
     "permissions": 0o755, "owner": "1000", "group": "app"},
]


def test_archive_is_deterministic_and_independent_of_entry_order():
    first = build(FILES)
    assert first == build(list(reversed(FILES)))
    assert first[4:8] == b"\x00\x00\x00\x00"  # gzip header mtime 0
    assert A.sha256_hex(first) == A.sha256_hex(build([dict(f) for f in FILES]))


def test_archive_members_carry_sorted_names_fixed_mtime_modes_and_owners():
    with tarfile.open(fileobj=io.BytesIO(build(FILES)), mode="r:gz") as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == ["etc/app/a.conf", "etc/app/b.conf", "opt/bin/tool"]
        assert {m.mtime for m in members} == {0}
        assert all(m.isreg() for m in members)
        a, b, tool = members
        assert (a.mode, a.uid, a.gid, a.uname, a.gname) == (0o644, 0, 0, "root", "root")
        assert (b.mode, b.uid, b.gid, b.uname, b.gname) == (0o600, 500, 500, "core", "core")
        assert (tool.mode, tool.uid, tool.uname, tool.gid, tool.gname) == (0o755, 1000, "", A.NOBODY_ID, "app")
        assert tar.extractfile(tool).read() == bytes(range(256))


def test_changing_one_byte_or_one_mode_changes_the_sha256():
    base = A.sha256_hex(build(FILES))
    changed_content = [dict(FILES[0], content="c\n")] + FILES[1:]
    changed_mode = [dict(FILES[0], permissions="0640")] + FILES[1:]
    assert len({base, A.sha256_hex(build(changed_content)), A.sha256_hex(build(changed_mode))}) == 3


@pytest.mark.parametrize("path, error", [
    ("etc/app.conf", "must be absolute"),
    ("/etc/../passwd", "must not contain '..'"),
    ("/..", "must not contain '..'"),
    ("/etc//app.conf", "not normalised"),
    ("/etc/./app.conf", "not normalised"),
    ("/etc/app/", "names a directory"),
    ("/etc/a\nb", "control characters"),
    ("", "non-empty"),
    (None, "non-empty"),
])
def test_bad_paths_are_refused(path, error):
    with pytest.raises(A.ArchiveError, match=error):
        A.normalize_files([{"path": path, "content": "x"}])


@pytest.mark.parametrize("path, member", [
    ("/etc/app.conf", "etc/app.conf"),
    ("/a", "a"),
    ("/srv/x..y/z", "srv/x..y/z"),
])
def test_good_paths_become_relative_members(path, member):
    assert A.normalize_files([{"path": path, "content": ""}])[0]["member"] == member


def test_duplicate_paths_are_refused_naming_both_entries():
    with pytest.raises(A.ArchiveError, match=r"#2 .*duplicate path, already given by entry #1"):
        A.normalize_files([{"path": "/etc/x", "content": "1"}, {"path": "/etc/x", "content": "2"}])


@pytest.mark.parametrize("value, mode", [
    ("0644", 0o644), ("644", 0o644), ("0o755", 0o755), ("4755", 0o4755), ("0", 0), (0o600, 0o600), (420, 0o644),
])
def test_modes(value, mode):
    assert A.parse_mode(value) == mode


@pytest.mark.parametrize("value", ["0899", "rw-r--r--", "12345", "", True, -1, 0o10000, "0x1ff"])
def test_bad_modes_are_refused(value):
    with pytest.raises(A.ArchiveError, match="permissions"):
        A.parse_mode(value)


@pytest.mark.parametrize("entry, error", [
    ({"path": "/x", "content": "a\x00b"}, "NUL bytes; binary content needs encoding: b64"),
    ({"path": "/x", "content": "\udcff"}, "not valid text"),
    ({"path": "/x", "content": "not base64!", "encoding": "b64"}, "not valid base64"),
    ({"path": "/x", "content": "eA==", "encoding": "gzip"}, "encoding 'gzip'"),
    ({"path": "/x"}, "give 'content' or 'src'"),
    ({"path": "/x", "src": "file.bin"}, "action plugin"),
    ({"path": "/x", "content": "a", "owner": "bad name"}, "owner 'bad name'"),
])
def test_bad_contents_are_refused(entry, error):
    with pytest.raises(A.ArchiveError, match=error):
        A.normalize_files([entry])


def test_base64_content_may_be_wrapped_and_both_encoding_names_work():
    data = bytes(range(200))
    wrapped = "\n".join(base64.b64encode(data).decode()[i:i + 60] for i in range(0, 268, 60))
    for encoding in ("b64", "base64"):
        assert A.normalize_files([{"path": "/x", "content": wrapped, "encoding": encoding}])[0]["data"] == data


def test_size_cap_is_a_clear_error():
    with pytest.raises(A.ArchiveError, match="size cap of 10 bytes"):
        A.normalize_files([{"path": "/a", "content": "123456"}, {"path": "/b", "content": "123456"}], max_size=10)


@pytest.mark.parametrize("size, chunks", [
    (0, 1), (1, 1), (A.CHUNK_SIZE - 1, 1), (A.CHUNK_SIZE, 1), (A.CHUNK_SIZE + 1, 2), (3 * A.CHUNK_SIZE, 3),
    (3 * A.CHUNK_SIZE + 1, 4),
])
def test_chunking_boundaries(size, chunks):
    data = bytes(i % 251 for i in range(size))
    parts = A.split_chunks(data)
    assert len(parts) == chunks
    assert b"".join(parts) == data
    assert all(len(p) <= A.CHUNK_SIZE for p in parts)
    assert A.CHUNK_SIZE == 512 * 1024 - 1024


def test_manifest_describes_files_without_contents():
    entries = A.normalize_files(FILES)
    files = A.file_manifest(entries)
    assert files[0] == {"path": "/etc/app/a.conf", "sha256": hashlib.sha256(b"a\n").hexdigest(), "mode": "0644",
                        "owner": "root", "group": "root", "size": 2}
    data = A.build_archive(entries)
    manifest = A.build_manifest("demo", data, A.split_chunks(data), files)
    assert manifest["sha256"] == A.sha256_hex(data) and manifest["chunks"] == 1 and manifest["size"] == len(data)
    assert "content" not in str(manifest)


SHA = "0a1b2c3d" * 8


def exec_lines(text):
    return [line for line in text.splitlines() if line.startswith(("ExecStartPre=", "ExecStart="))]


def test_extraction_unit_text():
    name, text = A.extraction_unit("demo", SHA, "houston/demo/archives", 21, machine_metadata=["role=web"])
    assert name == "demo-file-deploy@0a1b2c3d.service"
    assert "Type=oneshot\nRemainAfterExit=yes\n" in text
    assert f"Environment=HOUSTON_ARCHIVE_KEY=houston/demo/archives/{SHA}\n" in text
    assert "Environment=HOUSTON_ARCHIVE_CHUNKS=21\n" in text
    assert "[X-Fleet]\nGlobal=true\nMachineMetadata=role=web\n" in text
    assert text.endswith("[X-Houston]\nStack=demo\nVersion=0a1b2c3d\nOwner=houston.stack\n")
    lines = exec_lines(text)
    assert len(lines) == 5 and lines[-1].startswith("ExecStart=")
    for line in text.splitlines():
        assert len(line.encode()) < 1100
    for line in lines:
        script = line.split("=", 1)[1]
        # systemd would expand a lone $ or %, and unescape backslashes: the script uses none of them
        assert "\\" not in script and "%" not in script
        assert "$" not in script.replace("$$", "")
        assert script.startswith("/bin/sh -c '") and script.endswith("'") and script.count("'") == 2
    used = " ".join(lines)
    for word in ("sleep ", "mktemp", "rm ", "mv ", "cat ", "python"):
        assert word not in used
    assert "sha256sum -c" in used and "--retry-connrefused" in used and "${FLEETLAB_ROOT:-}" in used.replace("$$", "$")


def test_extraction_unit_never_carries_a_token():
    _name, text = A.extraction_unit("demo", SHA, "houston/demo/archives", 1, token_file="/etc/houston/consul-token")
    assert "Environment=HOUSTON_TOKEN_FILE=/etc/houston/consul-token" in text
    assert "X-Consul-Token:$$t" in text  # read on the machine from the token file


def test_global_stack_archive_unit_name():
    assert A.extraction_unit("global", SHA, "houston/global/archives", 1)[0] == "global-file-deploy@0a1b2c3d.service"


@pytest.mark.parametrize("kwargs, error", [
    ({"machine_metadata": ["role web"]}, "machine_metadata"),
    ({"token_file": "relative/token"}, "token_file"),
    ({"extract_root": "/srv/../etc"}, "extract_root"),
])
def test_extraction_unit_refuses_bad_options(kwargs, error):
    with pytest.raises(A.ArchiveError, match=error):
        A.extraction_unit("demo", SHA, "houston/demo/archives", 1, **kwargs)


@pytest.mark.parametrize("prefix", ["", "/", "a/../b", "a//b", "a b"])
def test_bad_prefixes(prefix):
    with pytest.raises(A.ArchiveError, match="key_prefix"):
        A.validate_prefix(prefix)


def test_gzip_stream_decompresses_to_a_tar_with_sorted_members():
    raw = gzip.decompress(build(FILES))
    assert raw[:len("etc/app/a.conf")] == b"etc/app/a.conf"
