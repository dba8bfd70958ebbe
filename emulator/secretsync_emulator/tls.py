"""Throwaway TLS for the emulator: a CA and a loopback server certificate, made at start.

kubectl sends a kubeconfig's bearer token only over TLS (client-go's
``clientcmd`` drops user credentials for plain-HTTP servers), so the emulator
serves HTTPS by default. Keys are ECDSA P-256 (milliseconds to make), live
only in memory (loaded into OpenSSL through a memfd, never a file on disk),
and die with the server. The CA certificate is public: it goes into
kubeconfigs and CA files for clients.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import tempfile

__all__ = ["ServerTLS"]


class ServerTLS:
    """A fresh CA and a server certificate for 127.0.0.1, ::1 and localhost."""

    def __init__(self, hosts: tuple[str, ...] = ("127.0.0.1", "::1", "localhost")) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        now = datetime.datetime.now(datetime.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "secretsync-emulator-ca")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=7))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        names = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=7))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        self.ca_pem = ca.public_bytes(serialization.Encoding.PEM)
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context.set_alpn_protocols(["http/1.1"])
        _load_chain(self.context, cert_pem + key_pem)


def _load_chain(context: ssl.SSLContext, pem: bytes) -> None:
    """``load_cert_chain`` needs a path: give it an anonymous in-memory file where the OS has one."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("emulator-tls", 0)
        try:
            os.write(fd, pem)
            context.load_cert_chain(f"/proc/self/fd/{fd}")
            return
        finally:
            os.close(fd)
    with tempfile.NamedTemporaryFile() as fh:  # pragma: no cover - non-Linux fallback, removed at once
        os.chmod(fh.name, 0o600)
        fh.write(pem)
        fh.flush()
        context.load_cert_chain(fh.name)
