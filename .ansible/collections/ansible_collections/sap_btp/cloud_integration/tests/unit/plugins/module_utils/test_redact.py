# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import base64
from urllib.parse import quote, quote_plus

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._redact import MASK, Redactor, fingerprint

SECRET = "0a1b2c3d-4e5f$Q2xpZW50+U2Vj/cmV0="


def test_scrub_raw_and_encoded_forms():
    redactor = Redactor().add(SECRET)
    for form in (SECRET, quote(SECRET, safe=""), quote_plus(SECRET), base64.b64encode(SECRET.encode()).decode()):
        text = "before %s after" % form
        scrubbed = redactor.scrub(text)
        assert form not in scrubbed
        assert scrubbed == "before %s after" % MASK


def test_scrub_pem_escaped_and_line_by_line():
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx1x2x3x4x5x6x7x8x9\nABCDEFGHIJKLMNOPQRSTUV\n-----END RSA PRIVATE KEY-----\n"
    redactor = Redactor().add(pem)
    escaped = pem.replace("\n", "\\n")
    assert "MIIEowIBAAKCAQEAx1x2" not in redactor.scrub("json: " + escaped)
    assert "ABCDEFGHIJKLMNOPQRSTUV" not in redactor.scrub("one line leaked: ABCDEFGHIJKLMNOPQRSTUV")


def test_short_and_empty_values_are_ignored():
    redactor = Redactor().add(None, "", "ab")
    assert len(redactor) == 0
    assert redactor.scrub("ab cd") == "ab cd"


def test_scrub_obj_recurses_and_keeps_types():
    redactor = Redactor().add(SECRET)
    data = {"a": [SECRET, 1, {"b": "x" + SECRET}], "c": True}
    assert redactor.scrub_obj(data) == {"a": [MASK, 1, {"b": "x" + MASK}], "c": True}


def test_fingerprint_is_stable_and_not_the_value():
    assert fingerprint(SECRET) == fingerprint(SECRET)
    assert fingerprint(SECRET) != fingerprint(SECRET + "x")
    assert SECRET not in fingerprint(SECRET)
    assert fingerprint(None) is None
    assert fingerprint({"b": 1, "a": 2}) == fingerprint({"a": 2, "b": 1})


def test_a_secret_added_while_another_thread_scrubs_is_masked(monkeypatch):
    """The threads of a batch share one Redactor. A secret added while another thread is sorting the known secrets
    for a scrub must not be lost when that scrub stores its (older) sorted list."""
    import threading  # pylint: disable=import-outside-toplevel
    from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _redact  # pylint: disable=import-outside-toplevel

    redactor = Redactor().add("initial-secret-value")
    sorting, added = threading.Event(), threading.Event()
    real_sorted = sorted

    def slow_sorted(*args, **kwargs):
        result = real_sorted(*args, **kwargs)
        if not sorting.is_set():
            sorting.set()
            added.wait(1)  # gives add() on the other thread the chance to run in the middle of this scrub
        return result

    monkeypatch.setattr(_redact, "sorted", slow_sorted, raising=False)
    scrub = threading.Thread(target=redactor.scrub, args=("some text",))
    scrub.start()
    assert sorting.wait(5)

    def add():
        redactor.add(SECRET)
        added.set()

    adder = threading.Thread(target=add)
    adder.start()
    adder.join(5)
    scrub.join(5)
    assert SECRET not in redactor.scrub("x %s y" % SECRET)
