"""Sandbox PKI built with `cryptography`.

- a sandbox root CA that signs the server certificate of every listener (127.0.0.1 / localhost);
- an "SAP Cloud Root CA" and, per region, an issuing CA
  "CN=SAP PKI Certificate Service Client CA,OU=SAP BTP Clients,O=SAP SE,L=cf-<region>,C=DE"
  that signs the client certificates of SAP-generated (`key-type: certificate`) service keys;
- an RS256 token signing key shared by the UAA and the XSUAA emulations.

CA material is cached as PEM in a JSON file (default `~/.cache/btp_sandbox/pki-v1.json`) so that start-up
does not pay for RSA key generation, and so that certificates issued before a restart stay valid.
"""

import base64
import datetime
import hashlib
import ipaddress
import json
import os
import tempfile
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CACHE_VERSION = "pki-v1"
_NAME_ATTRS = {"C": NameOID.COUNTRY_NAME, "L": NameOID.LOCALITY_NAME, "O": NameOID.ORGANIZATION_NAME,
               "OU": NameOID.ORGANIZATIONAL_UNIT_NAME, "CN": NameOID.COMMON_NAME}


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def name_from_dn(dn):
    """x509.Name from an RFC 4514 style string "CN=a,OU=b,O=c,C=DE" (most specific first).

    The resulting Name's rfc4514_string() gives back the same string.
    """
    parts = []
    for item in dn.split(","):
        key, _unused, value = item.partition("=")
        parts.append(x509.NameAttribute(_NAME_ATTRS[key.strip()], value.strip()))
    return x509.Name(list(reversed(parts)))


def rsa_key(bits=2048):
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def key_pem(key, pkcs1=False):
    fmt = serialization.PrivateFormat.TraditionalOpenSSL if pkcs1 else serialization.PrivateFormat.PKCS8
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()


def cert_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def load_cert(pem):
    if isinstance(pem, str):
        pem = pem.encode()
    return x509.load_pem_x509_certificate(pem)


def load_key(pem):
    """Load a PEM private key. The sandbox generated these keys itself, so the (slow) RSA consistency checks
    are skipped: they cost tens of milliseconds per key at every start-up."""
    if isinstance(pem, str):
        pem = pem.encode()
    return serialization.load_pem_private_key(pem, password=None, unsafe_skip_rsa_key_validation=True)


def fingerprint(cert_or_der):
    """sha256 hex of a certificate's DER encoding."""
    der = cert_or_der if isinstance(cert_or_der, bytes) else cert_or_der.public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).hexdigest()


def sap_time(when):
    """`2026-03-14T09:30:02.000Z` as in certificatedetails.validuntil."""
    return when.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def cert_details(cert):
    """certificatedetails {issuerdn, subjectdn, serialnumber "0x..", validuntil} of a certificate."""
    return {
        "issuerdn": cert.issuer.rfc4514_string(),
        "subjectdn": cert.subject.rfc4514_string(),
        "serialnumber": "0x%X" % cert.serial_number,
        "validuntil": sap_time(cert.not_valid_after_utc),
    }


def make_ca(subject, key=None, issuer_cert=None, issuer_key=None, days=3650, path_length=None):
    """Create a CA certificate (self-signed unless issuer given). Returns (cert, key)."""
    key = key or rsa_key()
    subject_name = name_from_dn(subject) if isinstance(subject, str) else subject
    now = utcnow()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject_name)
        .issuer_name(issuer_cert.subject if issuer_cert is not None else subject_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer_cert is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_cert.public_key()), critical=False)
    cert = builder.sign(issuer_key if issuer_key is not None else key, hashes.SHA256())
    return cert, key


def make_leaf(issuer_cert, issuer_key, subject, key=None, not_before=None, not_after=None, days=365,
              client=True, server=False, san_dns=(), san_ips=()):
    """Create an end-entity certificate. Returns (cert, key)."""
    key = key or rsa_key()
    subject_name = name_from_dn(subject) if isinstance(subject, str) else subject
    not_before = not_before or (utcnow() - datetime.timedelta(minutes=5))
    not_after = not_after or (not_before + datetime.timedelta(days=days))
    usages = []
    if client:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    if server:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject_name)
        .issuer_name(issuer_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_cert.public_key()), critical=False)
    )
    sans = [x509.DNSName(n) for n in san_dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in san_ips]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key, hashes.SHA256()), key


def client_ca_dn(region):
    return "CN=SAP PKI Certificate Service Client CA,OU=SAP BTP Clients,O=SAP SE,L=cf-%s,C=DE" % region


SANDBOX_ROOT_DN = "CN=BTP Sandbox Root CA,OU=btp_sandbox,O=sap_btp.cloud_integration tests,C=DE"
SAP_ROOT_DN = "CN=SAP Cloud Root CA,O=SAP SE,L=Walldorf,C=DE"


class Pki:
    """All key material of one sandbox. Thread-safe for issuing."""

    def __init__(self, regions=("eu10",), cache_dir=None, material=None):
        self._lock = threading.Lock()
        self.cache_file = None
        if material is None and cache_dir != "":
            cache_dir = cache_dir or os.path.join(
                os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "btp_sandbox")
            self.cache_file = os.path.join(cache_dir, CACHE_VERSION + ".json")
            material = self._read_cache()
        self.material = dict(material or {})
        changed = self._ensure(regions)
        if changed and self.cache_file:
            self._write_cache()

    # -- material -------------------------------------------------------------------------------
    def _read_cache(self):
        try:
            with open(self.cache_file, encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return {}

    def _write_cache(self):
        directory = os.path.dirname(self.cache_file)
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=".pki-")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self.material, handle)
            os.replace(tmp, self.cache_file)
        except OSError:
            # A read-only home is fine: the material is simply regenerated next time.
            self.cache_file = None

    def _ensure(self, regions):
        m = self.material
        changed = False
        if "root_cert" not in m:
            cert, key = make_ca(SANDBOX_ROOT_DN)
            m["root_cert"], m["root_key"] = cert_pem(cert), key_pem(key)
            m.pop("server_cert", None)
            changed = True
        self.root_cert, self.root_key = load_cert(m["root_cert"]), load_key(m["root_key"])
        if "server_cert" not in m or load_cert(m["server_cert"]).not_valid_after_utc < utcnow() + datetime.timedelta(days=30):
            server_key = ec.generate_private_key(ec.SECP256R1())
            cert, _unused = make_leaf(self.root_cert, self.root_key, "CN=127.0.0.1,O=btp_sandbox", key=server_key, days=825,
                                      client=False, server=True, san_dns=("localhost",), san_ips=("127.0.0.1", "::1"))
            m["server_cert"], m["server_key"] = cert_pem(cert), key_pem(server_key)
            changed = True
        if "sap_root_cert" not in m:
            cert, key = make_ca(SAP_ROOT_DN, days=7300)
            m["sap_root_cert"], m["sap_root_key"] = cert_pem(cert), key_pem(key)
            changed = True
        self.sap_root_cert, self.sap_root_key = load_cert(m["sap_root_cert"]), load_key(m["sap_root_key"])
        client_cas = m.setdefault("client_cas", {})
        for region in regions:
            if region not in client_cas:
                cert, key = make_ca(client_ca_dn(region), issuer_cert=self.sap_root_cert, issuer_key=self.sap_root_key,
                                    days=3650, path_length=0)
                client_cas[region] = {"cert": cert_pem(cert), "key": key_pem(key)}
                changed = True
        self.client_cas = {r: (load_cert(v["cert"]), load_key(v["key"])) for r, v in client_cas.items()}
        if "signing_key" not in m:
            m["signing_key"] = key_pem(rsa_key())
            changed = True
        self.signing_key = load_key(m["signing_key"])
        public_der = self.signing_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.signing_kid = "sandbox-" + hashlib.sha256(public_der).hexdigest()[:16]
        return changed

    def export(self):
        return dict(self.material)

    # -- PEM accessors --------------------------------------------------------------------------
    @property
    def root_ca_pem(self):
        return self.material["root_cert"]

    @property
    def server_cert_pem(self):
        return self.material["server_cert"]

    @property
    def server_key_pem(self):
        return self.material["server_key"]

    @property
    def client_trust_pem(self):
        """PEM of the SAP root and every SAP client CA (trust anchors for SAP-generated key certificates)."""
        return cert_pem(self.sap_root_cert) + "".join(cert_pem(c) for c, _unused in self.client_cas.values())

    @property
    def signing_public_pem(self):
        return self.signing_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def jwk(self):
        """The signing key as a UAA `/token_keys` entry: `value` is the PEM public key (as UAA and XSUAA serve it,
        what SAP's sap-xssec loads), next to the JWK members `n` and `e`."""
        numbers = self.signing_key.public_key().public_numbers()
        n_bytes = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
        value = self.signing_public_pem.strip()
        return {"kty": "RSA", "e": "AQAB", "use": "sig", "kid": self.signing_kid, "alg": "RS256",
                "value": value, "n": base64.urlsafe_b64encode(n_bytes).rstrip(b"=").decode()}

    # -- issuing --------------------------------------------------------------------------------
    def issue_client_cert(self, cn, validity_days, key_length=2048, subaccount_id="", region="eu10", now=None):
        """Issue a client certificate as the SAP PKI Certificate Service would for a `certificate` key.

        Returns (chain_pem leaf+intermediate+root, key_pem PKCS#1, certificatedetails dict).
        """
        ca_cert, ca_key = self.client_cas.get(region) or next(iter(self.client_cas.values()))
        now = (now or utcnow()).replace(microsecond=0)
        subject = "CN=%s,L=sap-uaa,OU=%s,OU=SAP Cloud Platform Clients,O=SAP SE,C=DE" % (cn, subaccount_id or "sandbox")
        key = rsa_key(key_length)
        with self._lock:
            cert, _unused = make_leaf(ca_cert, ca_key, subject, key=key, not_before=now,
                                      not_after=now + datetime.timedelta(days=validity_days))
        chain = cert_pem(cert) + cert_pem(ca_cert) + cert_pem(self.sap_root_cert)
        return chain, key_pem(key, pkcs1=True), cert_details(cert)
