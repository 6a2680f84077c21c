"""The secure port's certificate: the one given, or a self-signed one.

As kube-scheduler: ``--tls-cert-file`` and ``--tls-private-key-file`` name a
serving certificate; without them a self-signed one is generated at start-up
for the host name and the bound address (scrapers then skip verification or
pin it). The key is made by a short-lived child process (``python -m
py_scheduler.app.tls``) and handed over on a pipe, so that the scheduler
never maps the cryptography library (about 10 MiB of resident memory for
the life of the process, for one signature at start-up). It is written only
to a private temporary directory, because ``ssl`` loads certificates from
files, and removed once loaded.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
import ssl
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Final

KEY_MARKER: Final = b"-----BEGIN PRIVATE KEY-----"
CHILD_TIMEOUT: Final = 60.0


class TlsError(ValueError):
    """The certificate or key cannot be used; the message says which and why."""


def server_context(cert_file: str | None, key_file: str | None, address: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if bool(cert_file) != bool(key_file):
        raise TlsError("--tls-cert-file and --tls-private-key-file go together")
    if cert_file and key_file:
        try:
            context.load_cert_chain(cert_file, key_file)
        except (OSError, ssl.SSLError) as exc:
            raise TlsError(f"cannot load {cert_file} / {key_file}: {exc}") from None
        return context
    cert, key = self_signed_by_child(address)
    with tempfile.TemporaryDirectory(prefix="py-scheduler-tls-") as private:
        cert_path, key_path = Path(private) / "tls.crt", Path(private) / "tls.key"
        cert_path.write_bytes(cert)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key)
        context.load_cert_chain(cert_path, key_path)
    return context


def self_signed_by_child(address: str) -> tuple[bytes, bytes]:
    """:func:`self_signed`, made by a child process: (certificate, key) as PEM."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "py_scheduler.app.tls", address],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=CHILD_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TlsError(f"cannot make a self-signed certificate: {exc}") from None
    cert, marker, key = done.stdout.partition(KEY_MARKER)
    if done.returncode != 0 or not marker:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise TlsError(f"cannot make a self-signed certificate (exit {done.returncode}): {tail[0]}")
    return cert, marker + key


def self_signed(address: str, *, days: int = 365) -> tuple[bytes, bytes]:
    """A PEM certificate and key for this host, its name and ``address``."""
    # Imported here: only the child that makes the certificate maps the library.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    host = socket.gethostname()
    names: list[x509.GeneralName] = [x509.DNSName(host), x509.DNSName("localhost")]
    for ip in {address, "127.0.0.1"}:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(ip)))
        except ValueError:
            continue
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{host}@py-scheduler")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return (
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m py_scheduler.app.tls ADDRESS (prints a PEM certificate and key)")
    cert_pem, key_pem = self_signed(sys.argv[1])
    sys.stdout.buffer.write(cert_pem + key_pem)
