# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. One exception type for HTTP/API failures, with readable messages."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit, urlunsplit

_TAG_RE = re.compile(r"<[^>]+>")
_SPACE_RE = re.compile(r"\s+")
MAX_BODY_CHARS = 300


class ParameterError(ValueError):
    """Invalid user input, detected before anything is changed. The message names the option."""

    def __init__(self, option, message):
        self.option = option
        self.reason = message
        super().__init__("%s: %s" % (option, message) if option else message)


class ApiError(Exception):
    """An HTTP or API failure, already turned into a message a user can act on."""

    def __init__(self, message, status=None, method=None, url=None, code=None, title=None, detail=None, hint=None, retry_after=None, body=None):
        self.status = status
        self.method = method
        self.url = url
        self.code = code
        self.title = title
        self.detail = detail
        self.hint = hint
        self.retry_after = retry_after
        self.body = body
        super().__init__(message)

    def to_result(self):
        """Facts safe to return next to the failure message."""
        return {key: value for key, value in (("status", self.status), ("error_code", self.code), ("error_title", self.title)) if value is not None}


def safe_url(url):
    """Drop query string, fragment and user info from a URL before it appears in a message."""
    if not url:
        return url
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def text_snippet(text):
    """Shorten an error body (HTML included) to one readable line."""
    if not text:
        return ""
    text = _TAG_RE.sub(" ", text)
    text = _SPACE_RE.sub(" ", text).strip()
    if len(text) > MAX_BODY_CHARS:
        text = text[:MAX_BODY_CHARS] + "..."
    return text


def parse_error_body(text):
    """Return (code, title, detail) from a CF v3, UAA/XSUAA or OData error body, or from plain text."""
    try:
        data = json.loads(text) if text else None
    except ValueError:
        data = None
    if isinstance(data, dict):
        errors = data.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            return first.get("code"), first.get("title"), first.get("detail")
        error = data.get("error")
        if isinstance(error, dict):
            message = error.get("message")
            if isinstance(message, dict):
                message = message.get("value")
            return error.get("code"), error.get("code"), message
        if isinstance(error, str):
            return error, error, data.get("error_description")
        if "description" in data:
            return None, None, data.get("description")
    return None, None, text_snippet(text)


def api_error_from_response(response, context, hint=None):
    """Build an ApiError from a requests.Response."""
    try:
        body = response.text
    except (ValueError, RuntimeError):
        body = ""
    code, title, detail = parse_error_body(body)
    method = getattr(response.request, "method", None)
    url = safe_url(getattr(response, "url", None))
    parts = ["%s failed: HTTP %s" % (context, response.status_code)]
    if title:
        parts.append(" %s" % title)
    if code is not None and code != title:
        parts.append(" (code %s)" % code)
    if detail:
        parts.append(": %s" % detail)
    parts.append(" [%s %s]" % (method, url))
    if hint:
        parts.append(". %s" % hint)
    return ApiError(
        "".join(parts),
        status=response.status_code,
        method=method,
        url=url,
        code=code,
        title=title,
        detail=detail,
        hint=hint,
        body=body,
    )
