# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Service keys for the credentials_store tests: a client-secret key, and certificate keys with a real test CA and leaf."""

from __future__ import annotations

import datetime
import functools
import json

CLIENT_ID = "sb-3f0c2d11-8a7b-4c1e-9d2f-5b6a7c8d9e01!b137126|it-rt-acme-dev-x1y2z3!b196"
CLIENT_SECRET = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d$Q2xpZW50U2VjcmV0RmFrZVZhbHVlRm9yRW11bGF0b3I="
URL = "https://acme-dev-x1y2z3.it-cpi018-rt.cfapps.eu10-003.hana.ondemand.com"
TOKEN_URL = "https://acme-dev-x1y2z3.authentication.eu10.hana.ondemand.com/oauth/token"
CERT_TOKEN_URL = "https://acme-dev-x1y2z3.authentication.cert.eu10.hana.ondemand.com/oauth/token"


def secret_key(secret=CLIENT_SECRET):
    return {"oauth": {"clientid": CLIENT_ID, "clientsecret": secret, "url": URL, "tokenurl": TOKEN_URL, "createdate": "2025-03-14T09:21:44.512Z"}}


def pki(seed=0):
    """(chain PEM leaf+CA, private key PEM PKCS#1, CA PEM) from a throw-away test CA; seed gives distinct pairs."""
    return _pki(int(seed))


@functools.lru_cache(maxsize=None)
def _pki(seed):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def name(common_name):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca = (x509.CertificateBuilder().subject_name(name("Test Client CA %d" % seed)).issuer_name(name("Test Client CA %d" % seed))
          .public_key(ca_key.public_key()).serial_number(1000 + seed).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=365)).add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    leaf_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf = (x509.CertificateBuilder().subject_name(name("client-%d" % seed)).issuer_name(ca.subject).public_key(leaf_key.public_key())
            .serial_number(0x5A1B2C + seed).not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .sign(ca_key, hashes.SHA256()))

    def pem(cert):
        return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")

    key_pem = leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                     serialization.NoEncryption()).decode("ascii")
    return pem(leaf) + pem(ca), key_pem, pem(ca)


def certificate_key(seed=0):
    chain, key, dummy = pki(seed)
    return {"oauth": {"clientid": CLIENT_ID, "certificate": chain, "key": key, "url": URL, "tokenurl": CERT_TOKEN_URL,
                      "createdate": "2025-03-14T09:30:02.118Z"}}


def external_key(seed=0):
    chain, dummy, dummy2 = pki(seed)
    return {"oauth": {"clientid": CLIENT_ID, "certificate": chain, "url": URL, "tokenurl": CERT_TOKEN_URL}}


def as_sap_json(key):
    """The JSON text as the cockpit shows it (PEMs with \\n escapes)."""
    return json.dumps(key, indent=2)
