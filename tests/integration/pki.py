"""Throw-away test PKI: a CA and a server certificate for 127.0.0.1 / localhost.

Usage as a script: /usr/bin/python3 pki.py DIR  (writes DIR/ca.pem, DIR/server.pem, DIR/server.key)
"""
import datetime
import ipaddress
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mod_auth_msoauth tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_pki(directory):
    """Write ca.pem, server.pem and server.key (world-readable) into directory; return their paths."""
    os.makedirs(directory, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=30)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("mod_auth_msoauth test CA")
    ca_cert = (x509.CertificateBuilder()
               .subject_name(ca_name).issuer_name(ca_name)
               .public_key(ca_key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                            content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False,
                                            encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))

    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(_name("127.0.0.1")).issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))

    paths = {"ca": os.path.join(directory, "ca.pem"),
             "cert": os.path.join(directory, "server.pem"),
             "key": os.path.join(directory, "server.key")}
    blobs = {"ca": ca_cert.public_bytes(serialization.Encoding.PEM),
             "cert": cert.public_bytes(serialization.Encoding.PEM),
             "key": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())}
    for what, path in paths.items():
        with open(path, "wb") as f:
            f.write(blobs[what])
        # Apache's children run as www-data: everything a test writes must be readable by them.
        os.chmod(path, 0o644)
    return paths


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: pki.py DIR")
    for p in make_pki(sys.argv[1]).values():
        print(p)
