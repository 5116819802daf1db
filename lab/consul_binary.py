# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Find a Consul binary for the lab.

``consul`` from PATH is used when present. Otherwise Debian's ``consul`` package of the
bullseye suite (1.8.7) is fetched with apt, using a private apt configuration derived from
the machine's own Debian sources:

* the Debian entry of the system's apt sources (``/etc/apt/sources.list`` one-line format
  or ``/etc/apt/sources.list.d/*.sources`` deb822 format) is copied with its suite changed
  to ``bullseye``;
* ``Dir::Etc::SourceList``, ``Dir::Etc::SourceParts``, ``Dir::State::Lists`` and
  ``Dir::Cache`` point at a folder under the cache directory, so the system's apt state
  stays untouched; apt still verifies the signatures with the system keyrings;
* ``apt-get update`` and ``apt-get download consul`` run with that configuration and the
  package is unpacked with ``dpkg-deb -x``.

The binary ends up at ``<cache>/consul/usr/bin/consul``.
"""
from __future__ import annotations

import dataclasses
import fcntl
import glob
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SUITE = "bullseye"
PACKAGE = "consul"
SYSTEM_SOURCES_LIST = "/etc/apt/sources.list"
SYSTEM_SOURCES_PARTS = "/etc/apt/sources.list.d"


class ConsulBinaryError(RuntimeError):
    """Raised when no Consul binary can be found or fetched."""


@dataclasses.dataclass
class AptSource:
    """One apt source entry (one URI, one or more suites)."""

    types: list[str]
    uri: str
    suites: list[str]
    components: list[str]
    options: dict[str, str] = dataclasses.field(default_factory=dict)

    def to_deb822(self) -> str:
        """Render as a deb822 stanza (the format apt reads from ``*.sources``)."""
        lines = [
            "Types: " + " ".join(self.types),
            "URIs: " + self.uri,
            "Suites: " + " ".join(self.suites),
            "Components: " + " ".join(self.components),
        ]
        for key, value in self.options.items():
            if "\n" in value:  # multi-line field (an inline Signed-By key): continuation lines
                lines.append(f"{key}:")
                lines += [" " + line for line in value.split("\n")]
            else:
                lines.append(f"{key}: {value}")
        return "\n".join(lines) + "\n"


# one-line option names -> deb822 field names (the ones we may meet)
_ONE_LINE_OPTIONS = {
    "arch": "Architectures",
    "lang": "Languages",
    "target": "Targets",
    "pdiffs": "PDiffs",
    "by-hash": "By-Hash",
    "allow-insecure": "Allow-Insecure",
    "allow-weak": "Allow-Weak",
    "allow-downgrade-to-insecure": "Allow-Downgrade-To-Insecure",
    "trusted": "Trusted",
    "signed-by": "Signed-By",
    "check-valid-until": "Check-Valid-Until",
    "valid-until-min": "Valid-Until-Min",
    "valid-until-max": "Valid-Until-Max",
    "check-date": "Check-Date",
    "date-max-future": "Date-Max-Future",
    "inrelease-path": "InRelease-Path",
    "snapshot": "Snapshot",
}


def parse_one_line_sources(text: str) -> list[AptSource]:
    """Parse the one-line ``sources.list`` format (comments and blank lines ignored)."""
    sources = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        options: dict[str, str] = {}
        match = re.match(r"^(\S+)\s+\[([^\]]*)\]\s+(.*)$", line)
        if match:
            kind, opts, rest = match.groups()
            for opt in opts.split():
                if "=" in opt:
                    key, value = opt.split("=", 1)
                    options[_ONE_LINE_OPTIONS.get(key.lower(), key)] = value.replace(",", " ")
        else:
            kind, _sep, rest = line.partition(" ")
        fields = rest.split()
        if kind not in ("deb", "deb-src") or len(fields) < 2:
            continue
        sources.append(AptSource([kind], fields[0], [fields[1]], fields[2:], options))
    return sources


def parse_deb822_sources(text: str) -> list[AptSource]:
    """Parse the deb822 ``*.sources`` format; one AptSource per URI of each enabled stanza."""
    sources = []
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last_key = None
    for raw in text.splitlines() + [""]:
        if raw.startswith("#"):
            continue
        if not raw.strip():
            if current:
                stanzas.append(current)
            current, last_key = {}, None
            continue
        if raw[0] in " \t" and last_key:
            current[last_key] = (current[last_key] + "\n" + raw.strip()) if current[last_key] else raw.strip()
            continue
        key, _sep, value = raw.partition(":")
        last_key = key.strip().lower()
        current[last_key] = value.strip()
    for stanza in stanzas:
        if stanza.get("enabled", "yes").lower() == "no":
            continue
        types = stanza.get("types", "").split()
        uris = stanza.get("uris", "").split()
        suites = stanza.get("suites", "").split()
        components = stanza.get("components", "").split()
        options = {}
        for key, value in stanza.items():
            if key in ("types", "uris", "suites", "components", "enabled"):
                continue
            name = _ONE_LINE_OPTIONS.get(key, "-".join(part.capitalize() for part in key.split("-")))
            options[name] = value
        for uri in uris:
            sources.append(AptSource(list(types), uri, list(suites), list(components), dict(options)))
    return sources


def _is_debian_archive(source: AptSource) -> bool:
    """True for an entry of the main Debian archive (not security, backports, or third party)."""
    if "deb" not in source.types:
        return False
    path = re.sub(r"^[a-z+]+://[^/]*", "", source.uri).rstrip("/")
    if path.endswith("debian-security") or any("security" in suite or suite.endswith("/updates") for suite in source.suites):
        return False
    signed_by = source.options.get("Signed-By", "")
    if "debian-archive-keyring" in signed_by:
        return True
    return path.endswith("/debian")


def derive_bullseye_source(sources: list[AptSource]) -> AptSource:
    """Copy the Debian archive entry of ``sources`` with its suite changed to bullseye."""
    for source in sources:
        if _is_debian_archive(source):
            return AptSource(["deb"], source.uri, [SUITE], ["main"], dict(source.options))
    raise ConsulBinaryError(
        "no Debian archive entry found in the system's apt sources "
        f"({SYSTEM_SOURCES_LIST}, {SYSTEM_SOURCES_PARTS}/*.sources); cannot fetch the {PACKAGE} package. "
        "Install consul on PATH instead."
    )


def system_sources(sources_list: str = SYSTEM_SOURCES_LIST, sources_parts: str = SYSTEM_SOURCES_PARTS) -> list[AptSource]:
    """Read every apt source entry of the system (one-line and deb822 files)."""
    found: list[AptSource] = []
    if os.path.isfile(sources_list):
        found += parse_one_line_sources(Path(sources_list).read_text(encoding="utf-8", errors="replace"))
    for path in sorted(glob.glob(os.path.join(sources_parts, "*.sources"))):
        found += parse_deb822_sources(Path(path).read_text(encoding="utf-8", errors="replace"))
    for path in sorted(glob.glob(os.path.join(sources_parts, "*.list"))):
        found += parse_one_line_sources(Path(path).read_text(encoding="utf-8", errors="replace"))
    return found


def apt_options(apt_dir: Path) -> list[str]:
    """The ``-o`` options that make apt use only the private state under ``apt_dir``."""
    return [
        "-o", f"Dir::Etc::SourceList={apt_dir / 'sources.list'}",
        "-o", f"Dir::Etc::SourceParts={apt_dir / 'sources.list.d'}",
        "-o", f"Dir::State::Lists={apt_dir / 'lists'}",
        "-o", f"Dir::Cache={apt_dir / 'cache'}",
        "-o", "Debug::NoLocking=1",
        "-o", "APT::Sandbox::User=root",
    ]


def default_cache_dir() -> Path:
    """``LAB_CACHE`` or ``<repo>/.lab/cache``."""
    return Path(os.environ.get("LAB_CACHE") or REPO_ROOT / ".lab" / "cache").resolve()


def _run(cmd: list[str], what: str, cwd: Path | None = None) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ConsulBinaryError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{proc.stdout}{proc.stderr}")


def fetch_with_apt(cache_dir: Path) -> Path:
    """Download and unpack Debian bullseye's consul under ``cache_dir/consul``; return the binary."""
    target = cache_dir / "consul"
    binary = target / "usr" / "bin" / "consul"
    if binary.is_file():
        return binary
    for tool in ("apt-get", "dpkg-deb"):
        if not shutil.which(tool):
            raise ConsulBinaryError(f"consul is not on PATH and {tool} is missing: install consul on PATH")
    apt_dir = cache_dir / "apt"
    (apt_dir / "sources.list.d").mkdir(parents=True, exist_ok=True)
    (apt_dir / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (apt_dir / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    source = derive_bullseye_source(system_sources())
    (apt_dir / "sources.list").write_text("", encoding="utf-8")
    (apt_dir / "sources.list.d" / "debian-bullseye.sources").write_text(source.to_deb822(), encoding="utf-8")
    options = apt_options(apt_dir)
    _run(["apt-get", *options, "update"], "apt-get update (private configuration)")
    download_dir = apt_dir / "download"
    shutil.rmtree(download_dir, ignore_errors=True)
    download_dir.mkdir()
    _run(["apt-get", *options, "download", PACKAGE], f"apt-get download {PACKAGE}", cwd=download_dir)
    debs = sorted(download_dir.glob(f"{PACKAGE}_*.deb"))
    if not debs:
        raise ConsulBinaryError(f"apt-get download {PACKAGE} produced no .deb in {download_dir}")
    unpack = cache_dir / "consul.tmp"
    shutil.rmtree(unpack, ignore_errors=True)
    _run(["dpkg-deb", "-x", str(debs[0]), str(unpack)], f"dpkg-deb -x {debs[0].name}")
    if not (unpack / "usr" / "bin" / "consul").is_file():
        raise ConsulBinaryError(f"{debs[0].name} holds no usr/bin/consul")
    shutil.rmtree(target, ignore_errors=True)
    unpack.rename(target)
    return binary


def find_consul(cache_dir: Path | None = None) -> Path:
    """Return the Consul binary to use: PATH first, then the cached/fetched Debian package.

    Concurrent callers sharing the cache directory are serialised with a file lock.
    """
    on_path = shutil.which("consul")
    if on_path:
        return Path(on_path)
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / ".consul.lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return fetch_with_apt(cache_dir)


def consul_version(binary: Path) -> str:
    """First line of ``consul version`` (e.g. ``Consul v1.8.7``)."""
    proc = subprocess.run([str(binary), "version"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ConsulBinaryError(f"{binary} version failed (exit {proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout.splitlines()[0].strip() if proc.stdout else "unknown"


def main() -> int:
    """Print the binary path on stdout and its version on stderr."""
    try:
        binary = find_consul()
        version = consul_version(binary)
    except ConsulBinaryError as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 1
    print(binary)
    print(f"lab: using {version} ({binary})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
