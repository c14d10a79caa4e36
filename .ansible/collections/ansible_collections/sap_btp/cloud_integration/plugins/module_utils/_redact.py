# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. Keeps secret values out of messages, warnings and exceptions."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from urllib.parse import quote, quote_plus

MASK = "********"
MIN_SECRET_LENGTH = 4


def fingerprint(value):
    """Return a short, non-reversible fingerprint of a secret, safe to show in diffs and messages."""
    if value is None:
        return None
    if not isinstance(value, (bytes, bytearray)):
        value = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
        value = value.encode("utf-8")
    return "sha256:" + hashlib.sha256(value).hexdigest()[:16]


def _variants(secret):
    """Every form a secret commonly takes in text: raw, JSON-escaped, URL-encoded, base64."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
    raw = secret.encode("utf-8")
    forms.add(base64.b64encode(raw).decode("ascii"))
    forms.add(base64.urlsafe_b64encode(raw).decode("ascii").rstrip("="))
    if "\n" in secret:
        forms.add(secret.replace("\n", "\\n"))
        # each PEM body line on its own is secret too (a private key leaks line by line)
        forms.update(line for line in secret.splitlines() if len(line) >= 16 and not line.startswith("-----"))
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


class Redactor:
    """Collects secret values and scrubs them from any text or structure."""

    def __init__(self):
        self._forms = set()
        self._ordered = None
        # the threads of a batch share one Redactor: a secret registered by one must be masked for all
        self._lock = threading.Lock()

    def add(self, *values):
        """Register secret values (None and very short values are ignored)."""
        for value in values:
            if isinstance(value, (bytes, bytearray)):
                value = value.decode("utf-8", "replace")
            if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
                forms = _variants(value)
                with self._lock:
                    self._forms.update(forms)
                    self._ordered = None
        return self

    def __len__(self):
        return len(self._forms)

    def scrub(self, text):
        """Return text with every registered secret form replaced by a mask."""
        if text is None:
            return None
        if not isinstance(text, str):
            text = str(text)
        with self._lock:
            if not self._forms:
                return text
            if self._ordered is None:
                self._ordered = sorted(self._forms, key=len, reverse=True)
            ordered = self._ordered
        for form in ordered:
            if form in text:
                text = text.replace(form, MASK)
        return text

    def scrub_obj(self, obj):
        """Scrub strings inside dicts and lists, returning a new structure."""
        if isinstance(obj, dict):
            return {key: self.scrub_obj(value) for key, value in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [self.scrub_obj(value) for value in obj]
        if isinstance(obj, str):
            return self.scrub(obj)
        return obj
