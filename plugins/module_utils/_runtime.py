# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. Calls to iFlow endpoints on the Cloud Integration runtime ('-rt' host).

- path normalisation: ``/http/`` is added to a bare address, ``/cxf/`` (SOAP senders) is kept;
- authentication with an OAuth bearer token (through the shared token cache), Basic client id/secret, or the
  client certificate of a certificate key (mTLS on the runtime host);
- the CSRF handshake of the HTTPS sender adapter: on ``403`` with ``X-CSRF-Token: required`` the token is fetched
  with ``GET`` + ``X-CSRF-Token: Fetch`` in the same cookie session and the request is sent again;
- the message processing log id from the ``sap_messageprocessinglogid`` header or from the body of a 500 answer.
Retries (HttpClient) re-send idempotent methods only; a POST is repeated only when it provably never arrived.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import time
from urllib.parse import urlsplit

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ParameterError, safe_url, text_snippet

SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))
AUTH_KINDS = ("oauth", "basic", "certificate")
MPL_HEADER = "sap_messageprocessinglogid"
CORRELATION_HEADER = "sap_mplcorrelationid"
CORRELATION_REQUEST_HEADER = "SAP_MplCorrelationId"
_MPL_BODY_RE = re.compile(r"MPL ID for the failed message is\s*:\s*([A-Za-z0-9_\-]{8,})")


def iflow_url(base_url, path=None):
    """The runtime URL + path (``/http`` added unless the path starts with /http/ or /cxf/); without a path, base_url
    must be a full endpoint URL and is used as given."""
    if not base_url:
        raise ParameterError("url", "the runtime URL is unknown: pass the 'url' option or a service key with 'url'")
    if path is None:
        if urlsplit(base_url).path.strip("/"):
            return base_url
        raise ParameterError("path", "the endpoint address is needed (path, or url with the full endpoint URL)")
    if not path.strip("/ "):
        raise ParameterError("path", "the endpoint address is empty")
    path = "/" + path.strip().lstrip("/")
    lowered = path.lower()
    if not (lowered.startswith("/http/") or lowered.startswith("/cxf/")):
        path = "/http" + path
    return base_url.rstrip("/") + path


def mpl_id_from(response_headers, body_text):
    """MPL id from the response header, or from the text of a failed (500) call."""
    value = response_headers.get(MPL_HEADER) if response_headers is not None else None
    if value:
        return value.strip()
    match = _MPL_BODY_RE.search(body_text or "")
    return match.group(1) if match else None


def encode_body(body, body_format, src, headers):
    """(bytes or None, content type or None) for the request body."""
    content_type = None
    if src is not None:
        try:
            with open(src, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise ParameterError("src", "cannot read %s: %s" % (src, exc.strerror or exc)) from None
        if body_format == "json":
            content_type = "application/json"
        return data, content_type
    if body is None:
        return None, None
    if body_format == "json" or (body_format == "auto" and isinstance(body, (dict, list))):
        if isinstance(body, (dict, list, int, float, bool)):
            data = json.dumps(body).encode("utf-8")
        else:
            text = str(body)
            try:
                json.loads(text)
            except ValueError as exc:
                raise ParameterError("body", "body_format=json but the body is not valid JSON: %s" % exc) from None
            data = text.encode("utf-8")
        return data, "application/json"
    if isinstance(body, (dict, list)):
        raise ParameterError("body", "body_format=raw needs a string body")
    return str(body).encode("utf-8"), "text/plain; charset=utf-8"


def parse_body(response):
    """JSON-decoded body when the content type says JSON, otherwise text."""
    content_type = (response.headers.get("Content-Type") or "").lower()
    text = response.text if response.content else ""
    if "json" in content_type and text:
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _has_header(headers, name):
    return any(key.lower() == name.lower() for key in headers)


class IflowCaller:
    """One iFlow call with the collection's auth, CSRF and MPL handling."""

    def __init__(self, http, creds, auth="oauth", token_source=None, csrf=True):
        self.http = http
        self.creds = creds
        self.auth = auth
        self.token_source = token_source
        self.csrf = csrf
        self.csrf_handshake = False
        self.token_refreshed = False

    def check(self):
        if self.auth == "basic" and not self.creds.get("clientsecret"):
            raise ParameterError("auth", "auth=basic needs a client secret (a key of type client_secret); this key has a certificate")
        if self.auth == "certificate" and not (self.creds.get("certificate") and self.creds.get("key")):
            raise ParameterError("auth", "auth=certificate needs the key's certificate and private key (client_cert/client_key)")

    @contextlib.contextmanager
    def _auth(self):
        if self.auth == "certificate":
            from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._http import client_cert_files

            with client_cert_files(self.creds["certificate"], self.creds["key"], self.creds.get("certificate_option")) as cert:
                yield {}, {"cert": cert}
            return
        if self.auth == "basic":
            raw = ("%s:%s" % (self.creds["clientid"], self.creds["clientsecret"])).encode("utf-8")
            yield {"Authorization": "Basic " + base64.b64encode(raw).decode("ascii")}, {}
            return
        token = self.token_source(False)
        yield {"Authorization": "Bearer " + token}, {}

    def _send(self, method, url, headers, data, auth_headers, extra):
        merged = dict(headers)
        merged.update(auth_headers)
        return self.http.request(method, url, context="iFlow call %s %s" % (method, safe_url(url)), headers=merged,
                                 data=data, allow_redirects=False, **extra)

    def call(self, method, url, headers=None, data=None):
        """Send the request; returns (response, elapsed seconds)."""
        headers = dict(headers or {})
        start = time.monotonic()
        with self._auth() as (auth_headers, extra):
            response = self._send(method, url, headers, data, auth_headers, extra)
            if response.status_code == 401 and self.auth == "oauth" and not self.token_refreshed:
                # a cached token may have been revoked (deleted key): fetch a fresh one once
                self.token_refreshed = True
                auth_headers = {"Authorization": "Bearer " + self.token_source(True)}
                response = self._send(method, url, headers, data, auth_headers, extra)
            csrf_required = (response.headers.get("X-CSRF-Token") or "").lower() == "required"
            if self.csrf and response.status_code == 403 and method not in SAFE_METHODS and csrf_required:
                self.csrf_handshake = True
                fetch_headers = {"X-CSRF-Token": "Fetch"}
                fetch = self._send("GET", url, fetch_headers, None, auth_headers, extra)
                token = fetch.headers.get("X-CSRF-Token")
                if fetch.status_code >= 400 or not token or token.lower() == "required":
                    return fetch, time.monotonic() - start
                headers["X-CSRF-Token"] = token
                response = self._send(method, url, headers, data, auth_headers, extra)
        return response, time.monotonic() - start


def failure_message(method, url, status, expected, body_text, mpl_id, csrf_handshake):
    """A readable message for an unexpected status of an iFlow call."""
    where = "%s %s" % (method, safe_url(url))
    base = "iFlow call %s returned HTTP %s (expected %s)" % (where, status, ", ".join(str(code) for code in expected))
    hint = status_hint(status, mpl_id, csrf_handshake)
    snippet = text_snippet(body_text)
    message = base
    if hint:
        message += ": " + hint
    if snippet:
        message += ". Response: " + snippet
    return message


def status_hint(status, mpl_id=None, csrf_handshake=False):
    """What an error status of an iFlow call usually means (None when there is nothing to add)."""
    if status == 401:
        hint = ("the runtime did not accept the credentials: the token or secret is invalid or expired, the key was deleted, "
                "or the client certificate was not presented or does not belong to an integration-flow key")
    elif status == 403 and csrf_handshake:
        hint = "the CSRF handshake did not succeed: the endpoint did not hand out a token for this session"
    elif status == 403:
        hint = ("authenticated but not authorised: the service instance lacks the role the sender adapter requires "
                "(default ESBMessaging.send), or the credentials are of an 'api' key")
    elif status == 404:
        hint = ("no iFlow is deployed at this address: check the address and the servlet prefix (/http/ for the HTTPS "
                "sender adapter, /cxf/ for SOAP senders); a new deployment takes up to 3 minutes to register")
    elif status == 405:
        hint = "the iFlow does not accept this method"
    elif status >= 500 and mpl_id:
        hint = ("the iFlow failed; its message processing log is %s (look it up with "
                "sap_btp.cloud_integration.message_processing_log_info, mpl_id=%s)" % (mpl_id, mpl_id))
    else:
        hint = None
    return hint
