#!/usr/bin/env python
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test PKI for external-certificate keys: a client CA (trusted by the private sandbox), a valid client certificate
signed by it, and an expired one. Usage: make_pki.py DIR"""
import datetime
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Integration Tests"), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def write(path, data, mode):
    with open(path, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)


def main(directory):
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca = (x509.CertificateBuilder().subject_name(name("Test Client CA")).issuer_name(name("Test Client CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=400))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True).sign(ca_key, hashes.SHA256()))
    write(os.path.join(directory, "ca.pem"), ca.public_bytes(serialization.Encoding.PEM), 0o644)
    write(os.path.join(directory, "ca.key"), ca_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                                  serialization.NoEncryption()), 0o600)
    for label, start, end in (("partner", now - datetime.timedelta(days=1), now + datetime.timedelta(days=100)),
                              ("expired", now - datetime.timedelta(days=30), now - datetime.timedelta(days=1))):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cert = (x509.CertificateBuilder().subject_name(name(label)).issuer_name(ca.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end).sign(ca_key, hashes.SHA256()))
        write(os.path.join(directory, label + ".pem"), cert.public_bytes(serialization.Encoding.PEM), 0o644)


if __name__ == "__main__":
    main(sys.argv[1])
