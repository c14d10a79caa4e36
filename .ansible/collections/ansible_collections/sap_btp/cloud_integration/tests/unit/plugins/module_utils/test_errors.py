# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import json

import pytest

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import (
    ParameterError, parse_error_body, safe_url, text_snippet,
)


@pytest.mark.parametrize("body, expected", [
    ({"errors": [{"code": 10008, "title": "CF-UnprocessableEntity", "detail": "The service instance name is taken: x."}]},
     (10008, "CF-UnprocessableEntity", "The service instance name is taken: x.")),
    ({"error": "unauthorized", "error_description": "Bad credentials"}, ("unauthorized", "unauthorized", "Bad credentials")),
    ({"error": {"code": "Forbidden", "message": {"lang": "en", "value": None}}}, ("Forbidden", "Forbidden", None)),
    ({"error": {"code": "Bad Request", "message": {"lang": "en", "value": "Invalid filter"}}}, ("Bad Request", "Bad Request", "Invalid filter")),
])
def test_parse_known_envelopes(body, expected):
    assert parse_error_body(json.dumps(body)) == expected


def test_parse_html_body_becomes_one_short_line():
    html = "<html><head><title>404</title></head><body><h1>HTTP Status 404 - Not Found</h1>" + "x" * 1000 + "</body></html>"
    code, title, detail = parse_error_body(html)
    assert code is None and title is None
    assert detail.startswith("404 HTTP Status 404 - Not Found")
    assert len(detail) <= 303
    assert "<" not in detail


def test_safe_url_drops_query_and_userinfo():
    assert safe_url("https://user:pw@host.example/oauth/token?grant_type=client_credentials#x") == "https://host.example/oauth/token"
    assert safe_url(None) is None


def test_text_snippet_empty():
    assert text_snippet("") == ""


def test_parameter_error_names_option():
    error = ParameterError("roles", "unknown role 'Foo'")
    assert str(error) == "roles: unknown role 'Foo'"
    assert error.option == "roles"
