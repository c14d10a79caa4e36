# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import datetime
import os
import stat

import pytest

pytest.importorskip("cryptography")

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _certs  # noqa: E402
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ParameterError  # noqa: E402


def make_ca():
    key = _certs.generate_private_key(2048)
    crypto = _certs.crypto_lib()
    name = crypto.x509.Name([crypto.x509.NameAttribute(crypto.oid.NameOID.COMMON_NAME, "Test CA")])
    now = _certs.utcnow()
    cert = (crypto.x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(crypto.x509.BasicConstraints(ca=True, path_length=0), critical=True).sign(key, crypto.hashes.SHA256()))
    return cert, key


def test_self_signed_certificate():
    key = _certs.generate_private_key(2048)
    cert = _certs.build_certificate(key, "orders-sender-ext", 90)
    assert cert.subject == cert.issuer
    assert _certs.matches_private_key(cert, key)
    assert 89.9 < _certs.lifetime_days(cert) < 90.1
    crypto = _certs.crypto_lib()
    eku = cert.extensions.get_extension_for_class(crypto.x509.ExtendedKeyUsage).value
    assert crypto.oid.ExtendedKeyUsageOID.CLIENT_AUTH in eku


def test_ca_signed_certificate_is_capped_at_ca_expiry():
    ca_cert, ca_key = make_ca()
    key = _certs.generate_private_key(3072)
    cert = _certs.build_certificate(key, "client", 365, ca_cert, ca_key)
    assert cert.issuer == ca_cert.subject
    cert.verify_directly_issued_by(ca_cert)
    assert cert.not_valid_after_utc <= ca_cert.not_valid_after_utc
    assert _certs.public_key_bits(cert) == 3072


def test_ca_key_mismatch():
    ca_cert, dummy = make_ca()
    key = _certs.generate_private_key(2048)
    with pytest.raises(ParameterError, match="^ca_private_key_path"):
        _certs.build_certificate(key, "c", 10, ca_cert, _certs.generate_private_key(2048))


def test_private_key_written_0600_atomically_and_reloaded(tmp_path):
    key = _certs.generate_private_key(2048)
    path = str(tmp_path / "client.key")
    _certs.write_private_key(path, key, passphrase="pp-secret")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.listdir(tmp_path) == ["client.key"]
    assert b"ENCRYPTED" in open(path, "rb").read()
    with pytest.raises(ParameterError, match="encrypted; set private_key_passphrase"):
        _certs.load_private_key(path)
    assert _certs.load_private_key(path, "pp-secret").key_size == 2048
    assert _certs.load_private_key(str(tmp_path / "missing.key")) is None


def test_check_external_certificate():
    key = _certs.generate_private_key(2048)
    now = _certs.utcnow()
    cert = _certs.build_certificate(key, "c", 10)
    pem = _certs.certificate_pem(cert)
    assert _certs.check_external_certificate(pem).serial_number == cert.serial_number
    with pytest.raises(ParameterError, match="^certificate: the certificate 'CN=c' expired on"):
        _certs.check_external_certificate(pem, now=now + datetime.timedelta(days=11))
    with pytest.raises(ParameterError, match="contains 2 certificates"):
        _certs.check_external_certificate(pem + pem)
    with pytest.raises(ParameterError, match="cannot be parsed"):
        _certs.check_external_certificate("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")


def test_read_pem_option_text_escaped_and_path(tmp_path):
    key = _certs.generate_private_key(2048)
    pem = _certs.certificate_pem(_certs.build_certificate(key, "c", 10))
    assert _certs.read_pem_option(pem, "certificate") == pem
    assert _certs.read_pem_option(pem.replace("\n", "\\n"), "certificate") == pem
    path = tmp_path / "c.pem"
    path.write_text(pem)
    assert _certs.read_pem_option(str(path), "certificate") == pem
    with pytest.raises(ParameterError, match="^certificate: is neither PEM text nor a readable PEM file"):
        _certs.read_pem_option(str(tmp_path / "nope.pem"), "certificate")
