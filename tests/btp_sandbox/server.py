"""Sandbox: builds the Flask apps and runs one werkzeug threaded TLS server per listener on 127.0.0.1."""

import collections
import importlib
import io
import json
import logging
import os
import shutil
import socket
import ssl
import struct
import tempfile
import threading
import time
import traceback

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import InternalServerError
from werkzeug.serving import WSGIRequestHandler, make_server

from .broker import Broker
from .config import load_config
from .faults import Faults
from .pki import Pki
from .state import Store, now_iso

LOG = logging.getLogger("btp_sandbox")
COUNTED_LISTENERS = ("cf", "uaa", "token", "cert-token", "api", "runtime", "apiportal", "destination")


class _LazyHandshakeContext(ssl.SSLContext):
    """Accepted connections do their TLS handshake in the handler thread, not in the accept loop."""

    def wrap_socket(self, sock, server_side=False, do_handshake_on_connect=True, suppress_ragged_eofs=True,
                    server_hostname=None, session=None):
        return super().wrap_socket(sock, server_side=server_side, do_handshake_on_connect=False,
                                   suppress_ragged_eofs=suppress_ragged_eofs, server_hostname=server_hostname,
                                   session=session)


class _Handler(WSGIRequestHandler):
    """Quiet request handler that finishes the TLS handshake itself and tracks open connections."""

    _tls_failed = False

    def setup(self):
        super().setup()
        self._tls_failed = False
        try:
            # small responses must not wait for Nagle's algorithm (doubles sequential request rates)
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        tracker = getattr(self.server, "sandbox_connections", None)
        if tracker is not None:
            tracker.add(self.connection)
        if isinstance(self.connection, ssl.SSLSocket):
            try:
                self.connection.settimeout(15)
                self.connection.do_handshake()
                self.connection.settimeout(None)
            except (ssl.SSLError, OSError) as exc:
                LOG.debug("TLS handshake failed on %s: %s", getattr(self.server, "sandbox_listener", "?"), exc)
                self._tls_failed = True

    def handle(self):
        if self._tls_failed:
            return
        super().handle()

    def finish(self):
        tracker = getattr(self.server, "sandbox_connections", None)
        if tracker is not None:
            tracker.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def run_wsgi(self):
        """HTTP/1.1 keep-alive, as Cloud Foundry's gorouter and the other BTP endpoints have it. werkzeug's run_wsgi
        closes every connection (`Connection: close`) because http.server cannot drain an unread request body before
        the next request line; here the body (Content-Length) is read before the app runs, so the connection is left
        in a clean state and stays open. Otherwise every request paid a new TCP connection and TLS handshake on both
        sides (most of the sandbox's CPU time in a batch of a few hundred requests). A chunked upload, an HTTP/1.0
        client or `Connection: close` are served by werkzeug's run_wsgi as before (the connection closes)."""
        if self.close_connection or "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return super().run_wsgi()
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.environ = environ = self.make_environ()
        try:
            length = max(0, int(environ.get("CONTENT_LENGTH") or 0))
        except ValueError:
            length = 0
            self.close_connection = True
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            self.close_connection = True  # the client went away in the middle of its body
        environ["wsgi.input"] = io.BytesIO(body)
        state = {"status": None, "headers": None, "sent": False, "chunked": False}

        def write(data):
            if not state["sent"]:
                state["sent"] = True
                code_str, _sep, msg = state["status"].partition(" ")
                code = int(code_str)
                self.send_response(code, msg)
                keys = set()
                for key, value in state["headers"]:
                    self.send_header(key, value)
                    keys.add(key.lower())
                if not ("content-length" in keys or environ["REQUEST_METHOD"] == "HEAD" or 100 <= code < 200
                        or code in (204, 304)):
                    state["chunked"] = True
                    self.send_header("Transfer-Encoding", "chunked")
                if self.close_connection:
                    self.send_header("Connection", "close")
                self.end_headers()
            if data:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if state["chunked"] else data)
            self.wfile.flush()

        def start_response(status, headers, exc_info=None):
            if exc_info:
                try:
                    if state["sent"]:
                        raise exc_info[1].with_traceback(exc_info[2])
                finally:
                    exc_info = None
            elif state["headers"] is not None:
                raise AssertionError("Headers already set")
            state["status"], state["headers"] = status, headers
            return write

        def execute(app):
            application_iter = app(environ, start_response)
            try:
                for data in application_iter:
                    write(data)
                if not state["sent"]:
                    write(b"")
                if state["chunked"]:
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
            finally:
                if hasattr(application_iter, "close"):
                    application_iter.close()

        try:
            execute(self.server.app)
        except OSError as exc:  # the connection dropped (ConnectionError, timeouts, TLS errors, a `reset` fault)
            self.close_connection = True
            self.connection_dropped(exc, environ)
        except Exception:  # pylint: disable=broad-except
            self.close_connection = True
            if self.server.passthrough_errors:
                raise
            if not state["sent"]:
                state["status"] = state["headers"] = None
                try:
                    execute(InternalServerError())
                except Exception:  # pylint: disable=broad-except
                    pass
            self.server.log("error", "Error on request:\n%s" % traceback.format_exc())
        return None

    def log(self, type, message, *args):  # pylint: disable=redefined-builtin
        if type == "error":
            LOG.debug("%s: " + message, getattr(self.server, "sandbox_listener", "?"), *args)


def _fallback_app(listener):
    app = Flask("btp_sandbox.%s" % listener.replace("-", "_"))

    @app.route("/<path:_path>")
    def _not_here(_path):
        return jsonify({"error": "not_implemented", "error_description": "listener %s has no service yet" % listener}), 404

    return app


def _not_ready(_environ, start_response):
    """Placeholder WSGI app of a bound listener until its real app is attached (never served in practice)."""
    start_response("503 Service Unavailable", [("Content-Type", "text/plain"), ("Retry-After", "1")])
    return [b"btp sandbox is starting"]


def fault_response(listener, status, body, headers, retry_after=None):
    """A fault's HTTP answer in the listener's error format unless the rule gives a body."""
    if body is None:
        if listener == "cf":
            if status == 429:
                body = {"errors": [{"code": 10013, "title": "CF-RateLimitExceeded", "detail": "Rate Limit Exceeded"}]}
            else:
                body = {"errors": [{"code": 10001, "title": "CF-ServiceUnavailable" if status == 503 else "CF-InjectedFault",
                                    "detail": "Injected fault (HTTP %d)" % status}]}
        elif listener in ("uaa", "token", "cert-token"):
            body = {"error": "too_many_requests" if status == 429 else "server_error",
                    "error_description": "Injected fault (HTTP %d)" % status}
        elif listener in ("api", "apiportal"):
            body = {"error": {"code": "Injected", "message": {"lang": "en", "value": "Injected fault (HTTP %d)" % status}}}
        else:
            body = "Injected fault (HTTP %d)" % status
    if isinstance(body, (dict, list)):
        response = Response(json.dumps(body), status=status, mimetype="application/json")
    else:
        response = Response(str(body), status=status, mimetype="text/plain")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if retry_after is not None and "Retry-After" not in response.headers:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _abort_connection():
    """Close the client connection abruptly (RST): no HTTP response at all."""
    sock = request.environ.get("werkzeug.socket")
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


class Sandbox:
    """The local stand-in for SAP BTP. `start()` serves every listener and writes the connection file."""

    def __init__(self, config=None, state_file=None):
        self.config = config if config is not None else load_config()
        self.state_file = state_file
        self.store = Store(self.config.persistence_file)
        material = self.store.extra.get("pki")
        regions = sorted({t.region for t in self.config.tenants}) or ["eu10"]
        if material:
            self.pki = Pki(regions=regions, material=material)
        else:
            self.pki = Pki(regions=regions, cache_dir=self.config.pki_cache_dir)
        self.store.extra["pki"] = self.pki.export()
        self.faults = Faults([self._rule_dict(f) for f in self.config.faults])
        self.tenants = {t.name: t for t in self.config.tenants}
        self._count_lock = threading.Lock()
        self.request_counts = collections.Counter()
        self.request_total = 0
        self.servers = {}
        self._threads = []
        self.connection = None
        self.work_dir = None
        self._own_work_dir = False
        self.cf_url = self.uaa_url = self.admin_url = self.destination_url = ""
        self.ca_bundle = None
        self.broker = Broker(self)
        self.started = False
        self.started_in_s = None

    @staticmethod
    def _rule_dict(rule):
        data = {k: v for k, v in vars(rule).items() if v not in (None, "", {}, [])}
        return data

    # -- interface for the service modules ----------------------------------------------------
    def tenant(self, name):
        return self.tenants[name]

    def tenant_for_space(self, org_name, space_name):
        for tenant in self.config.tenants:
            if tenant.org == org_name and tenant.space == space_name:
                return tenant
        return None

    @staticmethod
    def peer_cert_der(req=None):
        """DER bytes of the TLS client certificate of the current request, or None."""
        req = req if req is not None else request
        pem = req.environ.get("SSL_CLIENT_CERT")
        if not pem:
            return None
        return ssl.PEM_cert_to_DER_cert(pem)

    def count(self, key):
        with self._count_lock:
            self.request_counts[key] += 1
            self.request_total += 1

    def reset_counts(self):
        with self._count_lock:
            self.request_counts.clear()
            self.request_total = 0

    def request_stats(self):
        with self._count_lock:
            return {"total": self.request_total, "by_route": dict(sorted(self.request_counts.items()))}

    # -- instrumentation ----------------------------------------------------------------------
    def instrument(self, app, listener):
        """Count requests, apply fault rules and profile latency on every request of `app`."""
        latency = self.config.profile.latency_ms / 1000.0

        @app.before_request
        def _sandbox_before():
            template = request.url_rule.rule if request.url_rule is not None else (request.path or "<unmatched>")
            key = "%s %s %s" % (listener, request.method, template)
            g.sandbox_route_key = key
            self.count(key)
            if latency > 0:
                time.sleep(latency)
            for kind, value in self.faults.for_request(key):
                if kind == "delay":
                    time.sleep(value)
                elif kind == "reset":
                    _abort_connection()
                    return Response(b"", status=500)
                elif kind == "rate_limit":
                    return fault_response(listener, 429, value.body, value.headers, retry_after=value.retry_after_s)
                else:
                    return fault_response(listener, value.status, value.body, value.headers)
            return None

        funcs = app.before_request_funcs.setdefault(None, [])
        funcs.remove(_sandbox_before)
        funcs.insert(0, _sandbox_before)
        return app

    # -- lifecycle ------------------------------------------------------------------------------
    def _ssl_context(self, client_auth):
        ctx = _LazyHandshakeContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self._path("server.pem"), self._path("server-key.pem"))
        if client_auth is not None:
            ctx.verify_mode = client_auth
            ctx.load_verify_locations(self._path("client-trust.pem"))
            for ca_file in self.config.trust_ca_files:
                ctx.load_verify_locations(ca_file)
        return ctx

    def _path(self, name):
        return os.path.join(self.work_dir, name)

    def _write(self, name, text, mode=0o600):
        path = self._path(name)
        fd, tmp = tempfile.mkstemp(dir=self.work_dir, prefix="." + name)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
        return path

    def _bind(self, name, ssl_context):
        port = int(self.config.ports.get(name, 0) or 0)
        server = make_server(self.config.host, port, _not_ready, threaded=True, request_handler=_Handler,
                             ssl_context=ssl_context)
        server.sandbox_listener = name
        server.sandbox_connections = set()
        server.block_on_close = False
        self.servers[name] = server
        return "%s://%s:%d" % ("https" if ssl_context is not None else "http", self.config.host, server.server_port)

    def _tenant_app(self, module_name, tenant, listener, **kwargs):
        try:
            module = importlib.import_module(".%s" % module_name, __package__)
        except ModuleNotFoundError as exc:
            if exc.name != "%s.%s" % (__package__, module_name):
                raise
            return _fallback_app(listener)
        return module.create_app(self, tenant, **kwargs)

    def start(self):
        started = time.monotonic()
        if self.config.work_dir:
            self.work_dir = self.config.work_dir
            os.makedirs(self.work_dir, exist_ok=True)
        else:
            self.work_dir = tempfile.mkdtemp(prefix="btp-sandbox-")
            self._own_work_dir = True
        self.ca_bundle = self._write("ca-bundle.pem", self.pki.root_ca_pem, 0o644)
        self._write("server.pem", self.pki.server_cert_pem)
        self._write("server-key.pem", self.pki.server_key_pem)
        self._write("client-trust.pem", self.pki.client_trust_pem, 0o644)
        plain = self._ssl_context(None)
        required = self._ssl_context(ssl.CERT_REQUIRED)
        optional = self._ssl_context(ssl.CERT_OPTIONAL)

        self.cf_url = self._bind("cf", plain)
        self.uaa_url = self._bind("uaa", plain)
        self.admin_url = self._bind("admin", plain if self.config.admin_tls else None)
        self.destination_url = self._bind("destination", plain)
        for tenant in self.config.tenants:
            tenant.token_base = self._bind("%s/token" % tenant.name, plain)
            tenant.cert_token_base = self._bind("%s/cert-token" % tenant.name, required)
            tenant.api_base = self._bind("%s/api" % tenant.name, optional)
            tenant.runtime_base = self._bind("%s/runtime" % tenant.name, optional)
            tenant.apiportal_base = self._bind("%s/apiportal" % tenant.name, plain)
            tenant.apiportal_url = tenant.apiportal_base
            tenant.token_url = tenant.token_base + "/oauth/token"
            tenant.cert_token_url = tenant.cert_token_base + "/oauth/token"
            tenant.api_url = tenant.api_base
            tenant.runtime_url = tenant.runtime_base
            tenant.ports = {k.split("/", 1)[1]: s.server_port for k, s in self.servers.items() if k.startswith(tenant.name + "/")}

        from . import admin, cf_api, uaa  # pylint: disable=import-outside-toplevel
        self.servers["cf"].app = self.instrument(cf_api.create_app(self), "cf")
        self.servers["uaa"].app = self.instrument(uaa.create_app(self), "uaa")
        self.servers["admin"].app = admin.create_app(self)
        self.servers["destination"].app = self.instrument(self._tenant_app("destination", None, "destination"), "destination")
        for tenant in self.config.tenants:
            self.servers["%s/token" % tenant.name].app = self.instrument(
                self._tenant_app("xsuaa", tenant, "token", cert=False), "token")
            self.servers["%s/cert-token" % tenant.name].app = self.instrument(
                self._tenant_app("xsuaa", tenant, "cert-token", cert=True), "cert-token")
            self.servers["%s/api" % tenant.name].app = self.instrument(self._tenant_app("odata", tenant, "api"), "api")
            self.servers["%s/runtime" % tenant.name].app = self.instrument(
                self._tenant_app("runtime", tenant, "runtime"), "runtime")
            self.servers["%s/apiportal" % tenant.name].app = self.instrument(
                self._tenant_app("apiportal", tenant, "apiportal"), "apiportal")
            self._seed_content(tenant)
        self._seed_instances()

        for name, server in self.servers.items():
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                      name="btp-sandbox-%s" % name, daemon=True)
            thread.start()
            self._threads.append(thread)
        self.broker.resume()
        self.connection = self._connection()
        if self.state_file:
            self.write_connection(self.state_file)
        self.started = True
        self.started_in_s = time.monotonic() - started
        LOG.info("btp sandbox ready in %.3f s: cf %s admin %s", self.started_in_s, self.cf_url, self.admin_url)
        return self

    def _seed_content(self, tenant):
        try:
            content = importlib.import_module(".content", __package__)
        except ModuleNotFoundError as exc:
            if exc.name != "%s.content" % __package__:
                raise
            return
        content.seed(self, tenant)

    def _seed_instances(self):
        """Instances (and keys) from config.seed_instances, created without broker validation (e.g. legacy
        instances that still carry `client_x509`)."""
        from . import cf_api  # pylint: disable=import-outside-toplevel
        for seed in self.config.seed_instances:
            cf_api.seed_instance(self, seed)

    def _connection(self):
        first = self.config.tenants[0] if self.config.tenants else None
        return {
            "cf": {"api_url": self.cf_url, "uaa_url": self.uaa_url, "username": self.config.cf.username,
                   "password": self.config.cf.password, "org": first.org if first else None,
                   "space": first.space if first else None},
            "ca_bundle": self.ca_bundle,
            "admin_url": self.admin_url,
            "destination_url": self.destination_url,
            "profile": self.config.profile.name,
            "pid": os.getpid(),
            "started_at": now_iso(),
            "tenants": [{"name": t.name, "subdomain": t.subdomain, "org": t.org, "space": t.space,
                         "subaccount_id": t.subaccount_id, "token_url": t.token_url, "cert_token_url": t.cert_token_url,
                         "api_url": t.api_url, "runtime_url": t.runtime_url, "apiportal_url": t.apiportal_url}
                        for t in self.config.tenants],
        }

    def write_connection(self, path):
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".btp-sandbox-conn-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(self.connection, handle, indent=2)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)

    def stop(self, remove_state_file=True):
        self.broker.stop()
        stoppers = [threading.Thread(target=server.shutdown, daemon=True) for server in self.servers.values()]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join(timeout=5)
        for server in self.servers.values():
            for conn in list(server.sandbox_connections):
                try:
                    socket.socket.shutdown(conn, socket.SHUT_RDWR)
                except OSError:
                    pass
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []
        self.servers = {}
        self.store.save()
        if remove_state_file and self.state_file and os.path.exists(self.state_file):
            os.unlink(self.state_file)
        if self._own_work_dir and self.work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)
        self.started = False

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
