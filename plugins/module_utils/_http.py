# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. The HTTP layer every module uses.

A requests.Session with timeouts, TLS verification (validate_certs, ca_path), optional client
certificate, a User-Agent naming the collection, and retries with exponential backoff and full
jitter on 429/502/503/504 and connection errors. Retry-After is honoured. A request that is not
idempotent (POST, PATCH) is re-sent only when it provably never reached the server (connect
errors, 429) or when the caller declares it safe (retry_safe=True), e.g. an OAuth token request.
"""

from __future__ import annotations

import contextlib
import datetime
import email.utils
import os
import random
import shutil
import tempfile
import time

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._deps import crypto_lib, requests_lib
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ApiError, ParameterError, api_error_from_response, safe_url
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._version import COLLECTION_NAME, COLLECTION_VERSION

RETRY_STATUSES = frozenset((429, 502, 503, 504))
IDEMPOTENT_METHODS = frozenset(("GET", "HEAD", "OPTIONS", "PUT", "DELETE"))
USER_AGENT = "%s/%s" % (COLLECTION_NAME, COLLECTION_VERSION)
MAX_RETRY_AFTER = 120.0
# Cloud Controller's rate limiter sends Retry-After as the epoch second of X-RateLimit-Reset: a number this large is
# a point in time (2001 or later), never a delay
EPOCH_RETRY_AFTER = 1e9


def parse_retry_after(value, now=None):
    """Seconds to wait from a Retry-After header (delta seconds, HTTP date, or the epoch seconds Cloud Controller's
    rate limiter sends); None if absent or invalid."""
    if value is None:
        return None
    value = str(value).strip()
    try:
        seconds = float(value)
        if seconds >= EPOCH_RETRY_AFTER:
            seconds -= time.time() if now is None else now
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, min(seconds, MAX_RETRY_AFTER))


def backoff_delay(attempt, base, cap, rng=random.random):
    """Full-jitter exponential backoff: uniform(0, min(cap, base * 2**attempt))."""
    return rng() * min(cap, base * (2 ** attempt))


class HttpClient:
    """Thin wrapper around requests.Session with the collection's retry, TLS and timeout policy."""

    def __init__(self, validate_certs=True, ca_path=None, timeout=30, client_cert=None, retries=5, backoff=0.5,
                 max_backoff=20.0, user_agent=None, redactor=None, sleep=time.sleep, session=None):
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self.timeout = timeout
        self.client_cert = client_cert
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.user_agent = user_agent or USER_AGENT
        self.redactor = redactor
        self.sleep = sleep
        self._session = session
        self.request_count = 0
        self.retry_log = []

    @property
    def session(self):
        if self._session is None:
            lib = requests_lib()
            session = lib.requests.Session()
            # up to 32 threads of a batch (module_utils/_batch.py) keep their connections
            adapter = lib.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=0)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            self._session = session
        return self._session

    @property
    def verify(self):
        if not self.validate_certs:
            return False
        return self.ca_path or True

    def close(self):
        if self._session is not None:
            self._session.close()
            self._session = None

    def _retryable_exception(self, exc, method, retry_safe):
        """Connection errors are retried; a non-idempotent request only if it never left this host."""
        exceptions = requests_lib().exceptions
        if isinstance(exc, exceptions.SSLError):
            return False
        if method in IDEMPOTENT_METHODS or retry_safe:
            return isinstance(exc, (exceptions.ConnectionError, exceptions.Timeout))
        return isinstance(exc, exceptions.ConnectTimeout) or (
            isinstance(exc, exceptions.ConnectionError) and "NewConnectionError" in repr(exc)
        )

    def request(self, method, url, context=None, expected=None, retry_safe=False, headers=None, **kwargs):
        """Send a request and return the Response.

        expected: iterable of acceptable status codes; any other final status raises ApiError.
        retry_safe: the caller guarantees that repeating this (non-idempotent) request is harmless.
        """
        method = method.upper()
        context = context or "%s %s" % (method, safe_url(url))
        lib = requests_lib()
        merged = {"User-Agent": self.user_agent}
        if headers:
            merged.update(headers)
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("verify", self.verify)
        if self.client_cert and "cert" not in kwargs:
            kwargs["cert"] = self.client_cert
        attempt = 0
        while True:
            self.request_count += 1
            try:
                response = self.session.request(method, url, headers=merged, **kwargs)
            except lib.exceptions.RequestException as exc:
                if attempt < self.retries and self._retryable_exception(exc, method, retry_safe):
                    delay = backoff_delay(attempt, self.backoff, self.max_backoff)
                    self.retry_log.append({"attempt": attempt + 1, "reason": type(exc).__name__, "delay": round(delay, 3)})
                    self.sleep(delay)
                    attempt += 1
                    continue
                raise self._connection_error(exc, context, method, url, client_cert=bool(kwargs.get("cert"))) from None
            status = response.status_code
            if status in RETRY_STATUSES and attempt < self.retries and (
                status == 429 or method in IDEMPOTENT_METHODS or retry_safe
            ):
                delay = backoff_delay(attempt, self.backoff, self.max_backoff)
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if retry_after is not None:
                    delay = max(delay, retry_after)
                self.retry_log.append({"attempt": attempt + 1, "reason": "HTTP %s" % status, "delay": round(delay, 3)})
                response.close()
                self.sleep(delay)
                attempt += 1
                continue
            if expected is not None and status not in expected:
                error = api_error_from_response(response, context)
                error.retry_after = parse_retry_after(response.headers.get("Retry-After"))
                raise error
            return response

    def _connection_error(self, exc, context, method, url, client_cert=False):
        exceptions = requests_lib().exceptions
        if isinstance(exc, exceptions.SSLError) and client_cert and rejected_client_certificate(str(exc)):
            hint = ("the server rejected the client certificate (TLS alert): it has expired, was revoked with its service key, or "
                    "is not issued by a CA the server trusts; check the key's certificate (and client_key), not ca_path")
        elif isinstance(exc, exceptions.SSLError):
            hint = "TLS verification failed; check ca_path (a CA bundle that signs the server certificate) or, for tests only, validate_certs=false"
        elif isinstance(exc, exceptions.Timeout):
            hint = "the server did not answer within timeout=%s seconds" % (self.timeout,)
        else:
            hint = "the host could not be reached; check the URL, DNS and proxy settings"
        detail = str(exc)
        if self.redactor is not None:
            detail = self.redactor.scrub(detail)
        return ApiError(
            "%s failed: %s (%s) [%s %s]" % (context, hint, type(exc).__name__, method, safe_url(url)),
            method=method,
            url=safe_url(url),
            title=type(exc).__name__,
            detail=detail,
            hint=hint,
        )

    def json(self, method, url, context=None, expected=(200,), **kwargs):
        """Request and decode a JSON body; returns (data, response)."""
        response = self.request(method, url, context=context, expected=expected, **kwargs)
        if response.status_code == 204 or not response.content:
            return None, response
        try:
            return response.json(), response
        except ValueError:
            raise ApiError(
                "%s failed: expected JSON but got %s: %s" % (
                    context or method, response.headers.get("Content-Type", "no content type"), response.text[:200]),
                status=response.status_code,
                method=method,
                url=safe_url(url),
            ) from None


# TLS alerts the server sends about the client's certificate (OpenSSL reason names); a server certificate this
# client does not trust fails with CERTIFICATE_VERIFY_FAILED instead
_CLIENT_CERT_ALERTS = ("ALERT_BAD_CERTIFICATE", "ALERT_CERTIFICATE_EXPIRED", "ALERT_CERTIFICATE_REVOKED", "ALERT_UNKNOWN_CA",
                       "ALERT_CERTIFICATE_UNKNOWN", "ALERT_CERTIFICATE_REQUIRED", "ALERT_UNSUPPORTED_CERTIFICATE",
                       "ALERT_ACCESS_DENIED", "ALERT_HANDSHAKE_FAILURE")


def rejected_client_certificate(text):
    """True when an SSL error says that the server rejected the client certificate (not that the server's
    certificate is untrusted)."""
    upper = (text or "").upper().replace(" ", "_")
    if "CERTIFICATE_VERIFY_FAILED" in upper:
        return False
    return any(alert in upper for alert in _CLIENT_CERT_ALERTS)


def check_certificate_validity(certificate, option, now=None):
    """Fail before any request when the client certificate has expired or is not valid yet: the server would
    only answer with a TLS alert that looks like a trust problem. The ParameterError names option."""
    crypto = crypto_lib()
    try:
        leaf = crypto.x509.load_pem_x509_certificates(certificate.encode("ascii"))[0]
    except (ValueError, TypeError, UnicodeEncodeError, IndexError):
        return  # not loadable here: the TLS library reports it with the request
    now = now or datetime.datetime.now(datetime.timezone.utc)
    not_after = leaf.not_valid_after_utc
    if not_after <= now:
        raise ParameterError(
            option,
            "the client certificate (subject %s) expired on %s; the server would reject it. Create a new key "
            "(the key_rotation role, or service_key with a new name) and use its credentials"
            % (leaf.subject.rfc4514_string(), not_after.strftime("%Y-%m-%dT%H:%M:%SZ")),
        )
    if leaf.not_valid_before_utc > now + datetime.timedelta(minutes=5):
        raise ParameterError(option, "the client certificate (subject %s) is not valid before %s"
                             % (leaf.subject.rfc4514_string(), leaf.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ")))


@contextlib.contextmanager
def client_cert_files(certificate_pem, private_key_pem, option=None):
    """Write a PEM certificate and key to a private temporary directory (0700/0600) for requests' cert=.

    The certificate is checked first: an expired one fails here, naming it, instead of as a TLS alert of the server.
    The files exist only inside the with-block.
    """
    check_certificate_validity(certificate_pem, option)
    directory = tempfile.mkdtemp(prefix="sap_btp_ci_")
    try:
        os.chmod(directory, 0o700)
        paths = []
        for name, content in (("cert.pem", certificate_pem), ("key.pem", private_key_pem)):
            path = os.path.join(directory, name)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(content)
            paths.append(path)
        yield tuple(paths)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
