# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The private apt configuration that fetches Debian bullseye's consul (lab/consul_binary.py)."""
from __future__ import annotations

import os
import stat

import pytest

from lab import consul_binary as cb

KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"

ONE_LINE_CASES = [
    pytest.param(
        "deb http://deb.debian.org/debian bookworm main contrib\n"
        "deb http://deb.debian.org/debian-security bookworm-security main\n",
        {"uri": "http://deb.debian.org/debian", "options": {}},
        id="plain-bookworm",
    ),
    pytest.param(
        "# security first\n"
        "deb http://security.debian.org/debian-security bullseye-security main\n"
        "deb-src http://deb.debian.org/debian bookworm main\n"
        "deb [arch=amd64 signed-by=" + KEYRING + "] http://ftp.de.debian.org/debian/ bookworm main non-free-firmware\n",
        {"uri": "http://ftp.de.debian.org/debian/", "options": {"Architectures": "amd64", "Signed-By": KEYRING}},
        id="options-and-security-first",
    ),
    pytest.param(
        "deb http://deb.debian.org/debian bookworm-updates main\n"
        "deb http://deb.debian.org/debian bookworm main  # trailing comment\n",
        {"uri": "http://deb.debian.org/debian", "options": {}},
        id="updates-suite-still-the-archive",
    ),
    pytest.param(
        "deb [signed-by=" + KEYRING + "] http://snapshot.debian.org/archive/debian/20250520T000000Z bookworm main\n",
        {"uri": "http://snapshot.debian.org/archive/debian/20250520T000000Z", "options": {"Signed-By": KEYRING}},
        id="snapshot-recognised-by-keyring",
    ),
]

DEB822_THIS_MACHINE = """Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
# http://snapshot.debian.org/archive/debian-security/20250520T000000Z
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""

DEB822_CASES = [
    pytest.param(DEB822_THIS_MACHINE, {"uri": "http://deb.debian.org/debian", "options": {"Signed-By": KEYRING}},
                 id="debian-bookworm-image"),
    pytest.param(
        "Types: deb deb-src\nURIs: http://deb.debian.org/debian\nSuites: trixie\nComponents: main\nEnabled: no\n\n"
        "Types: deb\nURIs: https://mirror.example.org/debian/ http://deb.debian.org/debian\nSuites: trixie trixie-updates\n"
        "Components: main contrib\nArchitectures: amd64 arm64\n",
        {"uri": "https://mirror.example.org/debian/", "options": {"Architectures": "amd64 arm64"}},
        id="disabled-stanza-skipped-first-uri-taken",
    ),
    pytest.param(
        "Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\n\n"
        "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\n"
        "Signed-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n mQINBF\n -----END PGP PUBLIC KEY BLOCK-----\n",
        {"uri": "http://deb.debian.org/debian",
         "options": {"Signed-By": "-----BEGIN PGP PUBLIC KEY BLOCK-----\n.\nmQINBF\n-----END PGP PUBLIC KEY BLOCK-----"}},
        id="source-only-stanza-skipped-inline-key-kept",
    ),
]

NOT_DEBIAN_CASES = [
    pytest.param("deb http://archive.ubuntu.com/ubuntu jammy main universe\n", "one-line", id="ubuntu"),
    pytest.param("deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n", "one-line", id="third-party"),
    pytest.param("Types: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\nComponents: main\n"
                 "Signed-By: /usr/share/keyrings/nodesource.gpg\n", "deb822", id="nodesource"),
    pytest.param("Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main\n"
                 "Signed-By: " + KEYRING + "\n", "deb822", id="security-only"),
    pytest.param("", "one-line", id="empty"),
]


def _check(derived: cb.AptSource, expected: dict) -> None:
    assert derived.types == ["deb"]
    assert derived.suites == ["bullseye"]
    assert derived.components == ["main"]
    assert derived.uri == expected["uri"]
    assert derived.options == expected["options"]


@pytest.mark.parametrize(("text", "expected"), ONE_LINE_CASES)
def test_one_line_sources_give_a_bullseye_copy_of_the_debian_entry(text, expected):
    _check(cb.derive_bullseye_source(cb.parse_one_line_sources(text)), expected)


@pytest.mark.parametrize(("text", "expected"), DEB822_CASES)
def test_deb822_sources_give_a_bullseye_copy_of_the_debian_entry(text, expected):
    _check(cb.derive_bullseye_source(cb.parse_deb822_sources(text)), expected)


@pytest.mark.parametrize(("text", "fmt"), NOT_DEBIAN_CASES)
def test_sources_without_a_debian_archive_entry_are_a_clear_error(text, fmt):
    parse = cb.parse_one_line_sources if fmt == "one-line" else cb.parse_deb822_sources
    with pytest.raises(cb.ConsulBinaryError, match="no Debian archive entry"):
        cb.derive_bullseye_source(parse(text))


def test_rendered_entry_parses_back_to_the_same_source():
    source = cb.derive_bullseye_source(cb.parse_deb822_sources(DEB822_THIS_MACHINE))
    again = cb.parse_deb822_sources(source.to_deb822())
    assert again == [source]
    assert "Suites: bullseye\n" in source.to_deb822()


def test_system_sources_reads_sources_list_and_both_part_formats(tmp_path):
    parts = tmp_path / "sources.list.d"
    parts.mkdir()
    (tmp_path / "sources.list").write_text("deb https://packages.cloud.google.com/apt cloud-sdk main\n", encoding="utf-8")
    (parts / "debian.sources").write_text(DEB822_THIS_MACHINE, encoding="utf-8")
    (parts / "extra.list").write_text("deb http://ftp.fr.debian.org/debian bookworm main\n", encoding="utf-8")
    (parts / "ignored.sources.disabled").write_text("Types: deb\nURIs: http://x/debian\nSuites: a\nComponents: b\n",
                                                    encoding="utf-8")
    found = cb.system_sources(str(tmp_path / "sources.list"), str(parts))
    assert [s.uri for s in found] == [
        "https://packages.cloud.google.com/apt",
        "http://deb.debian.org/debian",
        "http://deb.debian.org/debian-security",
        "http://ftp.fr.debian.org/debian",
    ]
    assert cb.derive_bullseye_source(found).uri == "http://deb.debian.org/debian"


def test_apt_options_keep_every_piece_of_apt_state_private(tmp_path):
    options = cb.apt_options(tmp_path)
    values = dict(opt.split("=", 1) for opt in options[1::2])
    for key in ("Dir::Etc::SourceList", "Dir::Etc::SourceParts", "Dir::State::Lists", "Dir::Cache"):
        assert values[key].startswith(str(tmp_path) + "/"), key
    assert all(flag == "-o" for flag in options[0::2])


def test_consul_on_path_wins_over_the_download(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "consul"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'Consul v9.9.9'\n", encoding="utf-8")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(fake.parent) + os.pathsep + os.environ["PATH"])
    cache = tmp_path / "cache"
    assert cb.find_consul(cache) == fake
    assert cb.consul_version(fake) == "Consul v9.9.9"
    assert not cache.exists()


def test_inline_signing_key_survives_the_copy():
    text = ("Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\n"
            "Signed-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n mQINBF\n -----END PGP PUBLIC KEY BLOCK-----\n")
    source = cb.derive_bullseye_source(cb.parse_deb822_sources(text))
    rendered = source.to_deb822()
    assert "Signed-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n mQINBF\n" in rendered
    assert cb.parse_deb822_sources(rendered) == [source]
