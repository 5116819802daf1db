# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of the reliability suite: the files directory of the suite's stacks, a deployed stack to compare
against, and a second Consul (ACL default deny, HTTPS with client certificates) on its own loopback address."""
from __future__ import annotations

import base64
import datetime
import ipaddress
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.integration.reliability.rel_support import FIXTURES, assert_serving, deploy

MASTER_TOKEN = "6d1a3c52-0d1f-4c55-9b11-8f2f6e6a1e01"


@pytest.fixture(scope="session")
def rel_files(tmp_path_factory) -> Path:
    """The stacks' files directory: svc.py plus generated files (a huge one, one over 512 KiB)."""
    files = tmp_path_factory.mktemp("rel-files")
    shutil.copy2(FIXTURES / "files" / "svc.py", files / "svc.py")
    with open(files / "huge.txt", "wb") as handle:  # over the 64 MiB cap of consul_archive
        handle.truncate(65 * 1024 * 1024)
        handle.seek(0)
        handle.write(b"huge\n")
    # ~900 KiB of text that does not compress below Consul's 512 KiB value limit
    (files / "big.bin").write_bytes(base64.b64encode(os.urandom(700 * 1024)) + b"\n")
    return files


@pytest.fixture(scope="module")
def baseline(lab, rel_files):
    """Stack rel-sec deployed at v1: the bad-input and security cases run against a cluster that has content."""
    rc, out = deploy(lab, rel_files, "rel-sec", "v1")
    assert rc == 0, out[-4000:]
    assert_serving(lab, "rel-sec", "v1")
    return "rel-sec"


# --- a second Consul: ACLs (default deny) and HTTPS with client certificates ----------------------------------------
def _certificates(directory: Path, ip: str) -> dict:
    """A CA, a server certificate for ``ip`` and a client certificate, written as PEM files."""
    # pylint: disable=import-outside-toplevel
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def write_key(name, key):
        path = directory / f"{name}.key"
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        return path

    def build(subject, issuer_name, issuer_key, public_key, ca=False, sans=None, usage=None):
        builder = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                   .issuer_name(issuer_name).public_key(public_key).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        if usage:
            builder = builder.add_extension(x509.ExtendedKeyUsage(usage), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "houston reliability test CA")])
    ca_cert = build("houston reliability test CA", ca_name, ca_key, ca_key.public_key(), ca=True)
    paths = {"ca": directory / "ca.pem", "ca_key": write_key("ca", ca_key)}
    paths["ca"].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    for name, sans, usage in (
            ("server", [x509.IPAddress(ipaddress.ip_address(ip)), x509.DNSName("server.dc1.consul"),
                        x509.DNSName("localhost")], [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            ("client", None, [ExtendedKeyUsageOID.CLIENT_AUTH])):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = build(f"{name}.dc1.consul", ca_name, ca_key, key.public_key(), sans=sans, usage=usage)
        paths[f"{name}_key"] = write_key(name, key)
        paths[name] = directory / f"{name}.pem"
        paths[name].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    # a self-signed certificate nobody trusts, for the verification failure
    rogue_key = ec.generate_private_key(ec.SECP256R1())
    rogue_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rogue CA")])
    paths["rogue_ca"] = directory / "rogue-ca.pem"
    paths["rogue_ca"].write_bytes(build("rogue CA", rogue_name, rogue_key, rogue_key.public_key(), ca=True)
                                  .public_bytes(serialization.Encoding.PEM))
    return paths


@pytest.fixture(scope="module")
def secure_consul(lab, tmp_path_factory):
    """A Consul dev agent on ``<lab net>.50``: HTTP :8500 and HTTPS :8501 (verify_incoming_https: client
    certificates required), ACLs enabled with default policy deny. Returns a dict of addresses, token and PEM paths."""
    directory = tmp_path_factory.mktemp("secure-consul")
    ip = f"{lab.net}.50"
    certs = _certificates(directory, ip)
    binary = subprocess.run([str(Path(__file__).resolve().parents[3] / ".venv" / "bin" / "python"), "-m", "lab",
                             "consul"], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[3]).stdout.strip().splitlines()[-1]
    config = directory / "consul.hcl"
    config.write_text(f"""
acl {{
  enabled = true
  default_policy = "deny"
  down_policy = "deny"
  tokens {{ master = "{MASTER_TOKEN}" }}
}}
ports {{ https = 8501  grpc = -1  dns = -1 }}
cert_file = "{certs['server']}"
key_file = "{certs['server_key']}"
ca_file = "{certs['ca']}"
verify_incoming_https = true
verify_incoming_rpc = false
""", encoding="utf-8")
    log = open(directory / "consul.log", "wb")  # pylint: disable=consider-using-with
    proc = subprocess.Popen([binary, "agent", "-dev", f"-bind={ip}", f"-client={ip}", f"-advertise={ip}",
                             "-node=secure-consul", f"-config-file={config}", "-log-level=warn"],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = requests.get(f"http://{ip}:8500/v1/status/leader", timeout=2)
                if answer.ok and answer.json():
                    answer = requests.get(f"http://{ip}:8500/v1/kv/?recurse", headers={"X-Consul-Token": MASTER_TOKEN},
                                          timeout=2)
                    if answer.status_code in (200, 404):
                        break
            except requests.RequestException:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the secure Consul did not start: {(directory / 'consul.log').read_text()[-2000:]}")
            time.sleep(0.3)
        yield {"ip": ip, "http": f"{ip}:8500", "https": f"https://{ip}:8501", "token": MASTER_TOKEN, **certs}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def secure_kv(info) -> dict:
    """{key: ModifyIndex} of the secure Consul (read with the master token)."""
    answer = requests.get(f"http://{info['http']}/v1/kv/", params={"recurse": "1"},
                          headers={"X-Consul-Token": info["token"]}, timeout=10)
    if answer.status_code == 404:
        return {}
    answer.raise_for_status()
    return {e["Key"]: e["ModifyIndex"] for e in answer.json()}
