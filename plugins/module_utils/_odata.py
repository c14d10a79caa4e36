# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. The Cloud Integration OData API v1 (OData V2, JSON).

- resource paths (entity set, key predicate, navigation) and query options ($filter, $select, ... and raw ones);
- paging: the server's ``__next`` links, or ``$skip`` when the server stops linking (``__count`` known) or when
  the caller pages with ``page_size``; stops at ``max_items``, and stops (then reads once without client paging)
  when a server ignores ``$skip`` and answers the same entities again, instead of looping forever;
- results flattened (``d`` / ``results`` envelopes), ``/Date(ms)/`` as ISO 8601, ``__metadata`` and deferred
  navigations dropped unless asked for;
- OData error JSON turned into a readable message; CSRF token fetch for writes;
- message processing logs: filters by id, correlation id, iFlow, status and time window, and waiting for statuses.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime
import hashlib
import json
import os
import re
import tempfile
import time
from urllib.parse import quote, urljoin, urlsplit

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ApiError, ParameterError, api_error_from_response, safe_url
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._oauth import token_provider

API_PATH = "/api/v1"
JSON_ACCEPT = "application/json"
VALUE_ACCEPT = "application/xml, text/plain;q=0.9, */*;q=0.8"
WRITE_METHODS = frozenset(("POST", "PUT", "PATCH", "MERGE", "DELETE"))
_DATE_RE = re.compile(r"^/Date\((-?\d+)(?:([+-])(\d{4}))?\)/$")
_QUOTE_SAFE = "$'(),:/=*@;!"
MPL_STATUSES = ("COMPLETED", "PROCESSING", "RETRY", "ESCALATED", "FAILED", "CANCELLED", "DISCARDED", "ABANDONED")
MPL_FINAL = frozenset(("COMPLETED", "ESCALATED", "FAILED", "CANCELLED", "DISCARDED", "ABANDONED"))
MPL_ROLE = "MonitoringDataRead"


# ---------------------------------------------------------------------------------------------------------------
# paths and queries

def service_root(url):
    """``<url>/api/v1`` unless the URL already ends with it."""
    url = url.rstrip("/")
    return url if url.endswith(API_PATH) else url + API_PATH


def literal(value):
    """An OData V2 literal for a key predicate or filter: strings quoted with '' escaping, numbers and booleans bare."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return "'%s'" % str(value).replace("'", "''")


def key_predicate(key):
    """``('X')`` / ``(Id='X',Version='active')`` from a string, number or dict; a string already holding a predicate
    (quotes or ``=``) is used as given."""
    if key is None:
        return ""
    if isinstance(key, dict):
        if not key:
            raise ParameterError("key", "an empty key")
        return "(%s)" % ",".join("%s=%s" % (name, literal(value)) for name, value in key.items())
    if isinstance(key, (int, float)) and not isinstance(key, bool):
        return "(%s)" % key
    text = str(key).strip()
    if text.startswith("(") and text.endswith(")"):
        return text
    if text.startswith("'") or "=" in text or re.match(r"^\d+L?$", text):
        return "(%s)" % text
    return "(%s)" % literal(text)


def resource_path(entity_set=None, key=None, navigation=None, path=None):
    """The resource path relative to the service root."""
    if path:
        if entity_set or key is not None or navigation:
            raise ParameterError("path", "path cannot be combined with entity_set, key or navigation")
        return path.strip().lstrip("/")
    if not entity_set:
        raise ParameterError("entity_set", "entity_set or path is required")
    if key is None and navigation:
        raise ParameterError("navigation", "a navigation needs the key of the entity it starts from")
    resource = entity_set.strip("/") + key_predicate(key)
    if navigation:
        resource += "/" + navigation.strip("/")
    return resource


def _joined(value):
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return ",".join(str(item) for item in value) if value else None
    return str(value)


def query_options(filter=None, select=None, orderby=None, expand=None, top=None, skip=None, inlinecount=False,
                  query=None):  # pylint: disable=redefined-builtin
    """An ordered list of (name, value) system and custom query options."""
    options = []
    for name, value in (("$filter", filter), ("$select", _joined(select)), ("$orderby", _joined(orderby)),
                        ("$expand", _joined(expand))):
        if value:
            options.append((name, value))
    if top is not None:
        options.append(("$top", str(int(top))))
    if skip:
        options.append(("$skip", str(int(skip))))
    if inlinecount:
        options.append(("$inlinecount", "allpages"))
    if isinstance(query, dict):
        for name, value in query.items():
            options.append((str(name), "" if value is None else str(value)))
    elif isinstance(query, str) and query.strip():
        for part in query.strip().lstrip("?").split("&"):
            name, _sep, value = part.partition("=")
            options.append((name, value))
    return options


def encode_query(options):
    return "&".join("%s=%s" % (quote(name, safe="$"), quote(value, safe=_QUOTE_SAFE)) for name, value in options)


def with_options(url, options):
    query = encode_query(options)
    return "%s?%s" % (url, query) if query else url


def replace_options(options, **values):
    """options with $top/$skip replaced (None removes)."""
    names = {"$" + name: value for name, value in values.items()}
    kept = [(name, value) for name, value in options if name not in names]
    for name, value in names.items():
        if value is not None:
            kept.append((name, str(value)))
    return kept


# ---------------------------------------------------------------------------------------------------------------
# results

def odata_date(value):
    """``/Date(1611846759005)/`` (optionally with an offset in minutes) → ``2021-01-28T15:12:39.005Z``; other values
    unchanged."""
    if not isinstance(value, str) or not value.startswith("/Date("):
        return value
    match = _DATE_RE.match(value)
    if not match:
        return value
    millis = int(match.group(1))
    if not match.group(2):
        # the common UTC case without datetime/strftime: bulk reads convert two dates per entity
        seconds, rest = divmod(millis, 1000)
        t = time.gmtime(seconds)
        return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, rest)
    moment = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(milliseconds=millis)
    if match.group(2):
        minutes = int(match.group(3))
        offset = datetime.timedelta(minutes=minutes if match.group(2) == "+" else -minutes)
        local = moment.astimezone(datetime.timezone(offset))
        return local.strftime("%Y-%m-%dT%H:%M:%S.") + "%03d" % (local.microsecond // 1000) + local.strftime("%z")[:3] + ":" + local.strftime("%z")[3:]
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (moment.microsecond // 1000)


_ENVELOPE_KEYS = frozenset(("results", "__count", "__next"))


def clean(obj, keep_metadata=False, convert_dates=True):
    """Flatten an OData V2 JSON value: ``{"results": [...]}`` → list, dates → ISO 8601, metadata dropped."""
    if isinstance(obj, dict):
        if isinstance(obj.get("results"), list) and len(obj) <= 3 and _ENVELOPE_KEYS.issuperset(obj):
            return [clean(item, keep_metadata, convert_dates) for item in obj["results"]]
        out = {}
        for name, value in obj.items():
            if isinstance(value, (dict, list)):
                if not keep_metadata and (name == "__metadata" or (isinstance(value, dict) and len(value) == 1 and "__deferred" in value)):
                    continue
                out[name] = clean(value, keep_metadata, convert_dates)
            elif not keep_metadata and name == "__metadata":
                continue
            else:
                out[name] = odata_date(value) if convert_dates else value
        return out
    if isinstance(obj, list):
        return [clean(item, keep_metadata, convert_dates) for item in obj]
    if convert_dates:
        return odata_date(obj)
    return obj


def envelope(data):
    """(entities or None, single entity or None, count or None, next link or None) from a JSON answer."""
    if not isinstance(data, dict):
        return None, None, None, None
    body = data.get("d", data)
    if isinstance(body, list):
        return body, None, None, None
    if isinstance(body, dict) and isinstance(body.get("results"), list):
        count = body.get("__count")
        try:
            count = int(count) if count is not None else None
        except (TypeError, ValueError):
            count = None
        return body["results"], None, count, body.get("__next")
    if isinstance(body, dict):
        return None, body, None, None
    return None, None, None, None


def identity(entity):
    """A stable identity of an entity: its ``__metadata.uri`` or its JSON text."""
    if isinstance(entity, dict):
        meta = entity.get("__metadata")
        if isinstance(meta, dict) and meta.get("uri"):
            return meta["uri"]
    return json.dumps(entity, sort_keys=True, default=str)


_NEXT_AT_END = re.compile(rb'"__next"\s*:\s*("(?:[^"\\]|\\.)*")\s*\}\s*\}\s*$')


def next_link_hint(body):
    """The ``__next`` link of a ``{"d": {..., "__next": "..."}}`` answer, read from the raw answer's last bytes before
    it is decoded, or None. Only a hint: the Pager checks it against the decoded answer."""
    match = _NEXT_AT_END.search(body[-4096:]) if body else None
    if match is None:
        return None
    try:
        link = json.loads(match.group(1).decode("utf-8"))
    except ValueError:
        return None
    return link if isinstance(link, str) and link else None


class Pager:
    """Collects a collection across pages. fetch(url) -> decoded JSON (the caller handles HTTP)."""

    MAX_PAGES = 10000

    def __init__(self, fetch, base_url, options, max_items=None, page_size=None, follow=True, warn=None, root=None, sink=None,
                 read=None):
        """``sink``: an object with ``reset()`` and ``write(entities)``; when given, every page goes to it as it arrives
        and run() returns an empty list, so memory stays bounded by one page (``written`` counts the entities).

        ``read``: ``(get, decode)``, ``fetch`` in two halves: ``get(url)`` answers a response whose ``content`` is read
        (status checked), ``decode(response)`` its JSON. With it, the next page is requested (from the ``__next`` link
        at the end of the raw answer) while the current one is decoded and kept: one request in flight at a time, on
        a worker thread, while the caller's thread does not use the connection."""
        self.fetch = fetch
        self.read = read
        self.sink = sink
        self.written = 0
        self.base_url = base_url
        self.root = (root or base_url.rsplit("/", 1)[0]).rstrip("/") + "/"
        self.options = list(options)
        self.max_items = max_items if max_items and max_items > 0 else None
        self.page_size = page_size if page_size and page_size > 0 else None
        self.follow = follow
        self.warn = warn
        self.pages = 0
        self.count = None
        self.truncated = False
        self.skip_ignored = False
        self.single = None
        self.no_content = False
        self.urls = []
        self.read_ahead = 0

    def _option(self, name):
        for key, value in self.options:
            if key == name:
                return int(value)
        return None

    def _limit(self):
        top = self._option("$top")
        limits = [value for value in (top, self.max_items) if value]
        return min(limits) if limits else None

    def run(self):
        results = self._collect(client_paging=self.page_size is not None)
        if self.skip_ignored and self.page_size is not None:
            if self.warn:
                self.warn("the server ignored $skip on %s (it answered entities it had already sent); read it once without "
                          "client-side paging instead" % safe_url(self.base_url))
            results = self._collect(client_paging=False)
            self.skip_ignored = True
        return results

    def _collect(self, client_paging):
        limit = self._limit()
        user_skip = self._option("$skip") or 0
        options = list(self.options)
        if client_paging:
            first_top = self.page_size if limit is None else min(self.page_size, limit)
            options = replace_options(options, top=first_top, skip=user_skip or None)
        url = with_options(self.base_url, options)
        results, seen, visited = [], set(), set()
        self.truncated = False
        self.written = 0
        if self.sink is not None:
            self.sink.reset()
        reader = _ReadAhead(self.read) if self.read is not None and self.follow else None
        last_page = 0
        try:
            while True:
                if url in visited or self.pages >= self.MAX_PAGES:
                    break
                visited.add(url)
                self.urls.append(url)
                if reader is None:
                    data = self.fetch(url)
                else:
                    kept = len(results) if self.sink is None else self.written
                    # no request ahead when this page will (by the size of the last one) reach the limit
                    wanted = last_page > 0 and (limit is None or kept + last_page < limit)
                    data = reader.page(url, lambda link: self._ahead_url(link, visited) if wanted else None)
                self.pages += 1
                if data is None:
                    self.no_content = True
                    return []
                page, single, count, next_link = envelope(data)
                if page is None:
                    self.single = single if single is not None else {}
                    return []
                last_page = len(page)
                if count is not None:
                    self.count = count
                if page and identity(page[0]) in seen:
                    self.skip_ignored = True
                    break
                for entity in page:
                    seen.add(identity(entity))
                done = (len(results) if self.sink is None else self.written) + len(page)
                if limit is not None and done >= limit:
                    more = done > limit or bool(next_link) or (self.count is not None and user_skip + limit < self.count)
                    if self.max_items is not None and limit == self.max_items and more:
                        self.truncated = True
                    self._keep(results, page[:len(page) - (done - limit)])
                    break
                next_url = self._next_url(url, page, next_link, client_paging, limit, user_skip, done)
                self._keep(results, page)
                if next_url is None:
                    break
                url = next_url
        finally:
            if reader is not None:
                self.read_ahead = reader.used
                reader.close()
        return results

    def _ahead_url(self, link, visited):
        url = urljoin(self.root, link)
        return None if url in visited else url

    def _next_url(self, url, page, next_link, client_paging, limit, user_skip, done):
        """The URL of the page after ``page`` (``done`` entities read so far), or None when the collection ends."""
        if not self.follow or not page:
            return None
        if next_link:
            return urljoin(self.root, next_link)
        if client_paging:
            asked = self._option_of(url, "$top")
            if asked is not None and len(page) < asked:
                return None
            remaining = None if limit is None else limit - done
            size = self.page_size if remaining is None else min(self.page_size, remaining)
            return with_options(self.base_url, replace_options(self.options, top=size, skip=user_skip + done))
        if self.count is not None and user_skip + done < self.count:
            return with_options(self.base_url, replace_options(self.options, skip=user_skip + done))
        return None

    def _keep(self, results, entities):
        if self.sink is None:
            results.extend(entities)
        else:
            self.sink.write(entities)
            self.written += len(entities)

    @staticmethod
    def _option_of(url, name):
        query = urlsplit(url).query
        for part in query.split("&"):
            key, _sep, value = part.partition("=")
            if key == name:
                try:
                    return int(value)
                except ValueError:
                    return None
        return None


class _ReadAhead:
    """Reads pages with ``(get, decode)``, requesting the next page on a worker thread while the current one is decoded
    and kept. At most one request is in flight; a request made for a link that turns out not to be the next page is
    awaited and dropped (its error too), so nothing runs on after the Pager stops."""

    def __init__(self, read):
        self.fetch, self.decode = read
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        self.ahead = None
        self.used = 0

    def response(self, url):
        if self.ahead is not None and self.ahead[0] == url:
            future, self.ahead = self.ahead[1], None
            self.used += 1
            return future.result()
        self.drop()
        return self.fetch(url)

    def page(self, url, next_url):
        """The decoded page at ``url``; ``next_url(link)`` turns the raw answer's ``__next`` hint into the URL to request
        ahead (or None)."""
        response = self.response(url)
        hint = next_link_hint(getattr(response, "content", None))
        ahead = next_url(hint) if hint else None
        if ahead is not None:
            self.ahead = (ahead, self.pool.submit(self.fetch, ahead))
        return self.decode(response)

    def drop(self):
        if self.ahead is not None:
            future, self.ahead = self.ahead[1], None
            try:
                future.result()
            except Exception:  # pylint: disable=broad-except
                pass  # a page that was not needed: its failure does not matter

    def close(self):
        self.drop()
        self.pool.shutdown(wait=True)


class JsonLinesFile:
    """A Pager sink: entities as JSON Lines (cleaned like ``results``) in a temporary file next to ``dest``.

    ``finish()`` replaces ``dest`` atomically (mode 0600) only when the content differs and returns whether it did;
    ``discard()`` removes the temporary file. Memory stays bounded by one page however many entities are read.
    """

    def __init__(self, dest, keep_metadata=False, convert_dates=True):
        self.dest = os.path.abspath(os.path.expanduser(dest))
        directory = os.path.dirname(self.dest)
        if os.path.isdir(self.dest):
            raise ParameterError("dest", "%s is a directory, not a file" % self.dest)
        if not os.path.isdir(directory):
            raise ParameterError("dest", "the directory %s does not exist" % directory)
        self.keep_metadata = keep_metadata
        self.convert_dates = convert_dates
        # one encoder for every line (json.dumps with options builds a new encoder per call)
        self.encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
        try:
            fd, self.temp = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(self.dest))
        except OSError as exc:
            raise ParameterError("dest", "cannot create a file in %s: %s" % (directory, exc.strerror)) from None
        self.handle = os.fdopen(fd, "w", encoding="utf-8")
        self.digest = hashlib.sha256()

    def reset(self):
        self.handle.seek(0)
        self.handle.truncate()
        self.digest = hashlib.sha256()

    def write(self, entities):
        encode = self.encoder.encode
        lines = "".join([encode(entity) + "\n" for entity in clean(list(entities), self.keep_metadata, self.convert_dates)])
        self.handle.write(lines)
        self.digest.update(lines.encode("utf-8"))

    def _current_digest(self):
        digest = hashlib.sha256()
        try:
            with open(self.dest, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        except OSError:
            return None
        return digest.hexdigest()

    def finish(self):
        self.handle.close()
        if self._current_digest() == self.digest.hexdigest():
            os.unlink(self.temp)
            return False
        os.chmod(self.temp, 0o600)
        os.replace(self.temp, self.dest)
        return True

    def discard(self):
        if not self.handle.closed:
            self.handle.close()
        if os.path.exists(self.temp):
            os.unlink(self.temp)


# ---------------------------------------------------------------------------------------------------------------
# HTTP

def odata_hint(status, detail=None):
    detail = (detail or "").lower()
    if status == 401:
        return ("the OData API did not accept the credentials: the token is invalid or expired, the key was deleted, or the "
                "credentials are of an 'integration-flow' key (the API needs an 'api' key)")
    if status == 403:
        return ("authenticated but not authorised: the 'api' service instance lacks the role this resource needs (e.g. "
                "MonitoringDataRead for message processing logs, WorkspacePackagesRead/Edit for packages)")
    if status == 404:
        return "the resource does not exist (check the entity set, key and navigation names; they are case-sensitive)"
    if status == 501 or "not supported" in detail or "not implemented" in detail:
        return ("this entity set does not support the query option (e.g. $inlinecount on IntegrationPackages, $top on "
                "DataStores); drop it")
    return None


class ODataClient:
    """Requests against one service root with a bearer token or client certificate."""

    def __init__(self, http, root, auth_headers=None, cert=None, extra_headers=None, refresh=None):
        self.http = http
        self.root = root.rstrip("/")
        self.auth_headers = dict(auth_headers or {})
        self.cert = cert
        self.extra_headers = dict(extra_headers or {})
        self.refresh = refresh
        self.refreshed = False
        self.csrf_token = None
        self.csrf_handshake = False

    def url(self, resource):
        return "%s/%s" % (self.root, resource) if resource else self.root + "/"

    def _headers(self, accept, more=None):
        headers = {"Accept": accept}
        headers.update(self.auth_headers)
        headers.update(self.extra_headers)
        if more:
            headers.update(more)
        return headers

    def send(self, method, url, accept=JSON_ACCEPT, headers=None, data=None, context=None):
        """One request; a 401 on a cached token is retried once with a fresh token. Returns the Response."""
        kwargs = {"cert": self.cert} if self.cert else {}
        if data is not None:
            kwargs["data"] = data
        context = context or "OData %s %s" % (method, safe_url(url))
        response = self.http.request(method, url, context=context, headers=self._headers(accept, headers), **kwargs)
        if response.status_code == 401 and self.refresh is not None and not self.refreshed:
            self.refreshed = True
            self.auth_headers.update(self.refresh())
            response = self.http.request(method, url, context=context, headers=self._headers(accept, headers), **kwargs)
        return response

    def raise_for(self, response, context):
        error = api_error_from_response(response, context)
        hint = odata_hint(response.status_code, error.detail)
        if hint:
            error = api_error_from_response(response, context, hint=hint)
        raise error

    def get_json(self, url, context=None):
        return self.decode_json(self.get_response(url, context), context)

    def get_response(self, url, context=None):
        """GET ``url``: the response (200 with its body read, or 204); other statuses raise."""
        response = self.send("GET", url, context=context)
        if response.status_code not in (200, 204):
            self.raise_for(response, context or "OData GET %s" % safe_url(url))
        return response

    def decode_json(self, response, context=None):
        """The JSON of a get_response() answer (None for 204)."""
        if response.status_code == 204:
            return None
        try:
            return response.json()
        except ValueError:
            raise ApiError("%s failed: expected JSON, got %s: %s" % (
                context or "OData GET %s" % safe_url(response.url), response.headers.get("Content-Type", "no content type"),
                response.text[:200]), status=response.status_code, url=safe_url(response.url)) from None

    def reader(self):
        """``(get, decode)`` for a Pager's ``read``."""
        return self.get_response, self.decode_json

    def fetch_csrf(self):
        """GET the service root with X-CSRF-Token: Fetch; returns the token or None (bearer clients often need none)."""
        response = self.send("GET", self.root + "/", headers={"X-CSRF-Token": "Fetch"}, context="CSRF token fetch")
        token = response.headers.get("X-CSRF-Token")
        if response.status_code < 400 and token and token.lower() != "required":
            self.csrf_token = token
            self.csrf_handshake = True
            return token
        return None

    def write(self, method, url, data=None, headers=None, csrf=True):
        """A modifying request with the CSRF token (fetched first; fetched again once on a 403 'Required')."""
        headers = dict(headers or {})
        if data is not None and not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = "application/json"
        if csrf and self.csrf_token is None:
            self.fetch_csrf()
        if self.csrf_token:
            headers["X-CSRF-Token"] = self.csrf_token
        response = self.send(method, url, headers=headers, data=data)
        if csrf and response.status_code == 403 and (response.headers.get("X-CSRF-Token") or "").lower() == "required":
            self.csrf_token = None
            if self.fetch_csrf():
                headers["X-CSRF-Token"] = self.csrf_token
                response = self.send(method, url, headers=headers, data=data)
        return response


@contextlib.contextmanager
def api_client(module, creds, extra_headers=None, auth=None):
    """An ODataClient for the key's API, authenticated per the module's ``auth`` option (oauth or certificate)."""
    auth = auth or module.params.get("auth") or "oauth"
    http = module.http()
    root = service_root(creds["url"])
    if auth == "certificate":
        if not (creds.get("certificate") and creds.get("key")):
            raise ParameterError("auth", "auth=certificate needs the key's certificate and private key (client_cert/client_key)")
        from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._http import client_cert_files

        with client_cert_files(creds["certificate"], creds["key"], creds.get("certificate_option")) as cert:
            yield ODataClient(http, root, cert=cert, extra_headers=extra_headers)
        return
    provider = token_provider(module, creds, http=http)

    def bearer(refresh=False):
        if refresh:
            provider.invalidate()
        entry = provider.token()
        module.redactor.add(entry["access_token"])
        return {"Authorization": "Bearer " + entry["access_token"]}

    yield ODataClient(http, root, auth_headers=bearer(), extra_headers=extra_headers, refresh=lambda: bearer(True))


def is_value_path(resource):
    tail = resource.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return tail in ("$value", "$count", "$metadata")


# ---------------------------------------------------------------------------------------------------------------
# message processing logs

_RELATIVE_RE = re.compile(r"^-?(\d+)\s*([smhd])$")


def parse_time(value, option, now=None):
    """ISO 8601 (naive = UTC) or a relative age such as ``30m``, ``2h``, ``1d`` (before now); returns aware UTC."""
    if value is None or value == "":
        return None
    now = now or datetime.datetime.now(datetime.timezone.utc)
    text = str(value).strip()
    match = _RELATIVE_RE.match(text)
    if match:
        seconds = int(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
        return now - datetime.timedelta(seconds=seconds)
    try:
        parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ParameterError(option, "expected an ISO 8601 date/time (e.g. 2026-01-31T12:00:00Z) or an age like 30m, 2h, 1d") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.astimezone(datetime.timezone.utc)


def datetime_literal(moment):
    """``datetime'2026-01-31T12:00:00.000'`` in UTC, without zone (the API misreads a trailing Z or offset)."""
    moment = moment.astimezone(datetime.timezone.utc)
    return "datetime'%s.%03d'" % (moment.strftime("%Y-%m-%dT%H:%M:%S"), moment.microsecond // 1000)


def mpl_filter(correlation_id=None, integration_flow=None, statuses=None, since=None, until=None, extra=None):
    """The $filter for message processing logs."""
    clauses = []
    if correlation_id:
        clauses.append("CorrelationId eq %s" % literal(correlation_id))
    if integration_flow:
        clauses.append("IntegrationArtifact/Id eq %s" % literal(integration_flow))
    if statuses:
        parts = ["Status eq %s" % literal(status) for status in statuses]
        clauses.append(parts[0] if len(parts) == 1 else "(%s)" % " or ".join(parts))
    if since is not None:
        clauses.append("LogEnd ge %s" % datetime_literal(since))
    if until is not None:
        clauses.append("LogStart le %s" % datetime_literal(until))
    if extra:
        clauses.append("(%s)" % extra)
    return " and ".join(clauses) or None


def wait_outcome(logs, wait_for):
    """'done' when every log has a status in wait_for, 'unexpected' when one reached another final status, else
    'pending' (also when no log is there yet)."""
    if not logs:
        return "pending"
    wanted = set(wait_for)
    statuses = [log.get("Status") for log in logs]
    if all(status in wanted for status in statuses):
        return "done"
    if any(status in MPL_FINAL and status not in wanted for status in statuses):
        return "unexpected"
    return "pending"


def poll(read, wait_for, timeout, interval, clock=time.monotonic, sleep=time.sleep):
    """Call read() until wait_outcome() is not 'pending' or timeout passes; returns (logs, outcome, waited seconds)."""
    start = clock()
    while True:
        logs = read()
        outcome = wait_outcome(logs, wait_for) if wait_for else "done"
        waited = clock() - start
        if outcome != "pending":
            return logs, outcome, waited
        if waited + interval > timeout:
            return logs, "timeout", waited
        sleep(interval)
