# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fakes at the HTTP boundary shared by the unit tests: scripted requests.Response objects and a session."""
from __future__ import annotations

import io
import json

import requests


def fake_response(status, body=None, headers=None, url="https://example.invalid/", method="GET", content_type=None):
    """A real requests.Response with the given status, body (bytes or JSON-able), headers and request."""
    resp = requests.Response()
    resp.status_code = status
    if body is None:
        resp._content = b""
    else:
        resp._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    resp._content_consumed = True
    resp.raw = io.BytesIO(b"")
    if content_type:
        resp.headers["Content-Type"] = content_type
    resp.headers.update(headers or {})
    resp.url = url
    resp.request = requests.Request(method, url).prepare()
    return resp


class FakeSession:
    """Stands in for requests.Session: returns (or raises) scripted outcomes in order and records each call."""

    def __init__(self, outcomes):
        self.outcomes = list(outcomes)
        self.calls = []

    def request(self, method, url, headers=None, **kwargs):
        self.calls.append({"method": method, "url": url, "headers": dict(headers or {}), **kwargs})
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def close(self):
        pass
