# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. Local key pairs and X.509 certificates for external-certificate service keys.

The private key is generated on the host that runs the module, written with mode 0600 through a temporary
file and an atomic rename, and is never returned or sent anywhere: only the certificate goes to the broker.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import tempfile

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._deps import crypto_lib
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ParameterError

PEM_CERT_MARK = "-----BEGIN CERTIFICATE-----"
CLOCK_SKEW = datetime.timedelta(minutes=5)


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def read_pem_option(value, option):
    """Return PEM text from an option that holds either PEM text or the path of a PEM file."""
    if value is None:
        return None
    text = value.replace("\\n", "\n") if "\\n" in value and "-----BEGIN" in value else value
    if "-----BEGIN" in text:
        return text.strip() + "\n"
    path = os.path.expanduser(text.strip())
    try:
        with open(path, "r", encoding="ascii") as handle:
            content = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ParameterError(option, "is neither PEM text nor a readable PEM file (%s: %s)" % (path, getattr(exc, "strerror", None) or exc)) from None
    if "-----BEGIN" not in content:
        raise ParameterError(option, "the file %s does not contain PEM data" % path)
    return content.strip() + "\n"


def load_certificates(pem, option):
    crypto = crypto_lib()
    try:
        certs = crypto.x509.load_pem_x509_certificates(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise ParameterError(option, "cannot be parsed as a PEM certificate: %s" % exc) from None
    if not certs:
        raise ParameterError(option, "contains no certificate")
    return certs


def iso(value):
    return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_external_certificate(pem, option="certificate", now=None):
    """Validate a certificate for an external-certificate key: exactly one, currently valid. Returns the certificate."""
    certs = load_certificates(pem, option)
    if len(certs) != 1:
        raise ParameterError(option, "contains %d certificates; the broker takes a single certificate, not a chain (pass only the "
                             "client certificate, whose issuing CA must be trusted by SAP)" % len(certs))
    cert = certs[0]
    now = now or utcnow()
    if cert.not_valid_after_utc <= now:
        raise ParameterError(option, "the certificate '%s' expired on %s; renew it before creating a key" % (
            cert.subject.rfc4514_string(), iso(cert.not_valid_after_utc)))
    if cert.not_valid_before_utc > now + CLOCK_SKEW:
        raise ParameterError(option, "the certificate '%s' is not valid before %s" % (cert.subject.rfc4514_string(), iso(cert.not_valid_before_utc)))
    return cert


def certificate_pem(cert):
    crypto = crypto_lib()
    return cert.public_bytes(crypto.serialization.Encoding.PEM).decode("ascii")


def fingerprint(cert):
    crypto = crypto_lib()
    return cert.fingerprint(crypto.hashes.SHA256()).hex()


def public_key_bits(cert):
    return getattr(cert.public_key(), "key_size", None)


def lifetime_days(cert):
    return (cert.not_valid_after_utc - cert.not_valid_before_utc).total_seconds() / 86400.0


def _public_der(public_key):
    crypto = crypto_lib()
    return public_key.public_bytes(crypto.serialization.Encoding.DER, crypto.serialization.PublicFormat.SubjectPublicKeyInfo)


def matches_private_key(cert, private_key):
    """Whether the certificate belongs to the private key."""
    return _public_der(cert.public_key()) == _public_der(private_key.public_key())


def generate_private_key(bits=2048):
    crypto = crypto_lib()
    return crypto.rsa.generate_private_key(public_exponent=65537, key_size=bits)


def load_private_key(path, passphrase=None, option="private_key_path"):
    """Load a PEM private key from a file; None when the file does not exist."""
    crypto = crypto_lib()
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ParameterError(option, "cannot read %s: %s" % (path, exc.strerror)) from None
    try:
        return crypto.serialization.load_pem_private_key(data, password=passphrase.encode("utf-8") if passphrase else None)
    except TypeError:
        raise ParameterError(option, "%s is encrypted; set private_key_passphrase" % path) from None
    except ValueError:
        raise ParameterError(option, "%s is not a PEM private key, or private_key_passphrase is wrong" % path) from None


def private_key_pem(private_key, passphrase=None):
    crypto = crypto_lib()
    ser = crypto.serialization
    encryption = ser.BestAvailableEncryption(passphrase.encode("utf-8")) if passphrase else ser.NoEncryption()
    return private_key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, encryption)


def write_private_file(path, data, mode=0o600):
    """Write bytes atomically: a temporary file of the given mode in the same directory, then rename."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ParameterError("private_key_path", "the directory %s does not exist" % directory)
    fd, temp = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(path))
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return path


def write_private_key(path, private_key, passphrase=None):
    return write_private_file(path, private_key_pem(private_key, passphrase), 0o600)


def build_certificate(private_key, common_name, validity_days, issuer_cert=None, issuer_key=None, organization=None, now=None):
    """A client certificate for private_key: self-signed, or signed by issuer_cert/issuer_key. Returns the certificate."""
    crypto = crypto_lib()
    x509, oid = crypto.x509, crypto.oid
    now = now or utcnow()
    attributes = [x509.NameAttribute(oid.NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.insert(0, x509.NameAttribute(oid.NameOID.ORGANIZATION_NAME, organization))
    subject = x509.Name(attributes)
    if issuer_cert is not None:
        if not matches_private_key(issuer_cert, issuer_key):
            raise ParameterError("ca_private_key_path", "the CA private key does not belong to ca_certificate")
        issuer = issuer_cert.subject
        signing_key = issuer_key
        not_after = min(now + datetime.timedelta(days=validity_days), issuer_cert.not_valid_after_utc)
    else:
        issuer = subject
        signing_key = private_key
        not_after = now + datetime.timedelta(days=validity_days)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False),
                       critical=True)
        .add_extension(x509.ExtendedKeyUsage([oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(private_key.public_key()), critical=False)
    )
    if issuer_cert is not None:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    return builder.sign(signing_key, crypto.hashes.SHA256())


def load_ca(ca_certificate, ca_private_key_path, passphrase=None):
    """The issuing CA (certificate, private key) for CA-signed external certificates."""
    pem = read_pem_option(ca_certificate, "ca_certificate")
    cert = load_certificates(pem, "ca_certificate")[0]
    key = load_private_key(os.path.expanduser(ca_private_key_path), passphrase, option="ca_private_key_path")
    if key is None:
        raise ParameterError("ca_private_key_path", "%s does not exist" % ca_private_key_path)
    if cert.not_valid_after_utc <= utcnow():
        raise ParameterError("ca_certificate", "the CA certificate '%s' expired on %s" % (cert.subject.rfc4514_string(), iso(cert.not_valid_after_utc)))
    return cert, key
