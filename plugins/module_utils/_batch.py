# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. Many resources in one module run (the ``instances`` option).

A loop of module tasks pays Ansible's start of a module process (about 0.3-0.5 s) for every item and runs the items
one after the other. A batch takes the list in one run and works on the items on a few threads that share one
Cloud Foundry client (one login, one connection pool):

- ``expand()`` builds the parameters of every item: the item's own options over the task's options, with the
  exclusive groups respected (an item that sets ``parameters`` does not inherit ``roles``, and the reverse);
- every item is validated before the first request, so bad input changes nothing;
- ``run_items()`` runs the items concurrently and keeps their order; an item that fails does not stop the others,
  and ``failure_message()`` names every failed item and its error;
- ``run_batch()`` is the whole batch of a module: validation, one client, the threads, one result.
"""

from __future__ import annotations

import concurrent.futures
import threading

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._deps import MissingDependencyError
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ApiError, ParameterError

MAX_CONCURRENCY = 32


def item_spec(argument_spec, item_options, required=("name",)):
    """The suboptions of a batch item: the module's own options (types, choices, no_log), without their defaults
    and fallbacks, so that an item option that is not set takes the task's value."""
    options = {}
    for name in item_options:
        options[name] = {key: value for key, value in argument_spec[name].items() if key not in ("default", "fallback", "required")}
        if name in required:
            options[name]["required"] = True
    return options


def expand(params, option, item_options, exclusive=(), identity=("name",), unique=True, require_first=True):
    """The parameters of every item of ``params[option]``.

    ``item_options``: the option names an item may set; an item value of None inherits the task's value.
    ``exclusive``: pairs of option groups; an item that sets an option of one group inherits nothing of the other.
    ``identity``: the options (after inheritance) that tell items apart; the first one must be set in every item.
    ``unique``: False for items that may repeat (calls); ``identity`` may then be empty.
    ``require_first``: False when the first identity option may be inherited from the task (the item's checks then
    require what they need).
    Raises ParameterError (naming ``option[index]``) for a missing name or an item listed twice.
    """
    items = params.get(option) or []
    expanded, seen = [], set()
    for index, item in enumerate(items):
        own = {name: value for name, value in (item or {}).items() if name in item_options and value is not None}
        where = item_label(option, index, own.get(identity[0]) if identity else None)
        if identity and require_first and not own.get(identity[0]):
            raise ParameterError(where, "every item needs a %s" % identity[0])
        merged = {name: value for name, value in params.items() if name != option}
        for first, second in exclusive:
            if any(name in own for name in first):
                merged.update({name: None for name in second})
            if any(name in own for name in second):
                merged.update({name: None for name in first})
        merged.update(own)
        ident = tuple(merged.get(name) for name in identity)
        if unique and ident in seen:
            raise ParameterError(where, "%s is listed twice" % ", ".join(
                "%s %r" % (name, value) for name, value in zip(identity, ident) if value is not None))
        seen.add(ident)
        expanded.append(merged)
    return expanded


class ItemModule:
    """The module as one item of a batch sees it: the item's parameters in ``params``; everything else (secrets, check
    and diff mode, file helpers, warnings) is the module's own. HTTP clients are shared by all items of the batch (one
    connection pool per set of options), and so are XSUAA tokens (``shared_tokens``, see _oauth.token_provider)."""

    def __init__(self, module, params, shared=None):
        self._module = module
        self.params = params
        self._shared = shared if shared is not None else {"http": {}, "lock": threading.Lock()}
        self.shared_tokens = self._shared.setdefault("tokens", None)

    def __getattr__(self, name):
        return getattr(self._module, name)

    def http(self, **overrides):
        key = tuple(sorted((name, repr(value)) for name, value in overrides.items()))
        with self._shared["lock"]:
            client = self._shared["http"].get(key)
            if client is None:
                client = self._shared["http"][key] = self._module.http(**overrides)
            return client


def item_modules(module, items, tokens=None):
    """An ItemModule per item, all sharing HTTP clients (and ``tokens``, a shared token store, when given)."""
    shared = {"http": {}, "lock": threading.Lock(), "tokens": tokens}
    return [ItemModule(module, item, shared) for item in items]


class Deferred:
    """What an item of a batch returns when its last lookup can be made for all items at once: ``key`` names the
    resource to look up, ``finish(resource)`` builds the item's result from it (or raises like the item would).
    ``run_batch(resolve=...)`` makes one list request for all deferred items instead of one request per item."""

    def __init__(self, key, finish):
        self.key = key
        self.finish = finish


def check_concurrency(value, option="concurrency"):
    if value is None or not 1 <= value <= MAX_CONCURRENCY:
        raise ParameterError(option, "must be between 1 and %d, got %s" % (MAX_CONCURRENCY, value))
    return value


def item_label(option, index, name=None):
    """How a message names an item: its position and, when it has one, its name - ``instances[2] 'partner-b'``."""
    where = "%s[%d]" % (option, index)
    return "%s '%s'" % (where, name) if name else where


def item_parameter_error(exc, where):
    """A ParameterError of an item, renamed to the item: ``instances[2] 'partner-b': plan: ...``."""
    return ParameterError(where, "%s: %s" % (exc.option, exc.reason) if exc.option else exc.reason)


def run_items(items, handler, concurrency):
    """handler(item) for every item on up to ``concurrency`` threads. Returns [(result, error)] in item order, where
    error is the exception of a failed item (ParameterError, ApiError or MissingDependencyError) and result None.
    Other exceptions are programming errors and propagate."""
    outcomes = [None] * len(items)

    def one(index):
        try:
            outcomes[index] = (handler(items[index]), None)
        except (ParameterError, ApiError, MissingDependencyError) as exc:
            outcomes[index] = (None, exc)

    if concurrency <= 1 or len(items) <= 1:
        for index in range(len(items)):
            one(index)
        return outcomes
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(concurrency, len(items))) as pool:
        for future in [pool.submit(one, index) for index in range(len(items))]:
            future.result()
    return outcomes


def failure_message(what, failures, total):
    """One message for the failed items: ``2 of 25 service instances failed: a: ...; b: ...``."""
    return "%d of %d %s failed: %s" % (len(failures), total, what, "; ".join(failures))


def apply_state(manager):
    return manager.present() if manager.p["state"] == "present" else manager.absent()


def run_one(module, manager, client_factory):
    """The task without a batch: the same manager, validated before the client is built; diff only in diff mode."""
    manager.validate()
    manager.client = client_factory(module)
    result = apply_state(manager)
    diff = result.pop("diff")
    if module._diff:
        result["diff"] = diff
    return result


def run_batch(module, option, items, make, client_factory, noun, identify, result_key=None, finalise=None, prepare=None,
              resolve=None):
    """The batch of a module. ``make(item)`` gives a manager (``validate()``, ``present()`` / ``absent()``, ``client``,
    ``p``); every item is validated before ``client_factory(module)`` builds the one shared client, then the items run
    on ``module.params['concurrency']`` threads. Returns ``{changed, <result_key>: results, diff}`` (results in item
    order; a failed item is ``identify(manager)`` with ``failed``, ``changed`` and ``msg``), or fails with a message
    that names every failed item. ``finalise(output, failed)`` may adjust the output first. ``prepare(client, managers)``
    runs once before the threads start (for example one list request that looks all items up at once).
    ``resolve(client, keys)`` returns ``{key: resource}`` for the keys of the items that returned a ``Deferred``
    (one list request for all of them); each deferred item is then finished with its resource."""
    concurrency = check_concurrency(module.params["concurrency"])
    managers = []
    for index, item in enumerate(items):
        manager = make(item)
        try:
            manager.validate()
        except ParameterError as exc:
            raise item_parameter_error(exc, item_label(option, index, getattr(manager, "p", {}).get("name"))) from None
        managers.append(manager)
    client = client_factory(module)
    if managers:
        client.access_token()  # one login before the threads start
        if getattr(client, "org", None) and getattr(client, "space", None):
            client.space_guid()  # a wrong org or space fails the task once, not once per item
    for manager in managers:
        manager.client = client
    if prepare is not None and managers:
        prepare(client, managers)
    outcomes = run_items(managers, apply_state, concurrency)
    deferred = [index for index, (result, error) in enumerate(outcomes) if isinstance(result, Deferred)]
    if deferred:
        lookup_error = None
        try:
            found = resolve(client, [outcomes[index][0].key for index in deferred])
        except (ParameterError, ApiError) as exc:
            found, lookup_error = None, exc
        if found is None:
            for index in deferred:
                outcomes[index] = (None, lookup_error)
        else:
            # finishing an item may make requests of its own (a new key that is ready already has its credentials
            # read): on the same threads as the items, not one after the other
            def finish(index):
                pending = outcomes[index][0]
                return pending.finish(found.get(pending.key))

            for index, (result, error) in zip(deferred, run_items(deferred, finish, concurrency)):
                if isinstance(error, MissingDependencyError):
                    raise error
                outcomes[index] = (result, error)
    results, diffs, failures = [], [], []
    for manager, (result, error) in zip(managers, outcomes):
        if error is not None:
            message = module.redactor.scrub("%s: %s" % (manager.p["name"], error))
            failures.append(message)
            results.append(dict(identify(manager), failed=True, changed=False, msg=message))
            continue
        diffs.append(result.pop("diff"))
        results.append(result)
    output = {"changed": any(result.get("changed") for result in results), result_key or option: results}
    if module._diff:
        output["diff"] = diffs
    if finalise is not None:
        finalise(output, bool(failures))
    if failures:
        module.fail_json(msg=failure_message(noun, failures, len(managers)), **output)
    return output


CALL_NOT_ITEM_OPTIONS = ("requests", "concurrency", "validate_certs", "ca_path", "timeout", "_stored_key",
                         "_requests_stored_keys")
# the keys of the items' own O(stored) that the action plugin read on the controller, by item index
REQUESTS_STORED_KEYS = "_requests_stored_keys"
# an item that names its own credentials takes none of the task's other credential options
CREDENTIAL_GROUPS = [("stored", "_stored_key"), ("service_key",), ("service_key_path",),
                     ("client_id", "client_secret", "token_url", "client_cert", "client_key")]


def call_item_options(spec):
    """Every option of a call module (iflow_request, odata_request, ...) that a ``requests`` item may set: the call
    and its credentials, from the module's own argspec."""
    from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._cf import cf_argument_spec

    # the Cloud Foundry connection (where a module takes one) is the task's, shared by all items
    connection = set(cf_argument_spec())
    return tuple(name for name in spec if name not in CALL_NOT_ITEM_OPTIONS and name not in connection)


def credential_exclusive(*extra, reference_key="key"):
    """Exclusive option groups of call items: the credential sources of ``_credentials`` (a CF reference is
    ``instance`` + ``reference_key``) and ``extra`` pairs."""
    groups = [("instance", reference_key)] + CREDENTIAL_GROUPS
    return [(first, second) for index, first in enumerate(groups) for second in groups[index + 1:]] + list(extra)


def add_requests_option(spec):
    """Add ``name``, ``concurrency`` and ``requests`` (items with the module's own options) to a call module's spec."""
    spec.update(name=dict(type="str"), concurrency=dict(type="int", default=8))
    spec["requests"] = dict(type="list", elements="dict", options=item_spec(spec, call_item_options(spec), required=()))
    spec[REQUESTS_STORED_KEYS] = dict(type="raw", no_log=True)
    return spec


def run_calls(module, option, item_options, handler, noun, tokens=None, exclusive=(), validate=None):
    """A batch of calls (``iflow_request`` ``requests``...): every item expanded and validated by ``validate(item_module)``
    (by default ``handler(item_module, validate_only=True)``), then ``handler(item_module)`` on ``concurrency`` threads
    sharing HTTP clients and tokens.
    Items may repeat. Returns ``{changed, <option>: results}`` in item order; an item whose result has ``failed`` or
    that raised is failed with its ``msg``, and the task then fails naming every failed item."""
    concurrency = check_concurrency(module.params.get("concurrency"))
    items = expand(dict(module.params), option, item_options, exclusive=exclusive, identity=(), unique=False)
    stored_keys = module.params.get(REQUESTS_STORED_KEYS) or {}
    for index, item in enumerate(items):
        item.pop(REQUESTS_STORED_KEYS, None)
        if str(index) in stored_keys:
            item["_stored_key"] = stored_keys[str(index)]
    modules = item_modules(module, items, tokens=tokens)
    for index, item_module in enumerate(modules):
        try:
            if validate is not None:
                validate(item_module)
            else:
                handler(item_module, validate_only=True)
        except ParameterError as exc:
            raise item_parameter_error(exc, item_label(option, index, item_module.params.get("name"))) from None
    results, failures = [], []
    for index, (item_module, (result, error)) in enumerate(zip(modules, run_items(modules, handler, concurrency))):
        label = item_module.params.get("name") or "%s[%d]" % (option, index)
        if error is not None:
            result = {"failed": True, "changed": False, "msg": str(error)}
            if isinstance(error, ApiError):
                result.update(error.to_result())
        if result.get("failed") and item_module.__dict__.get("token_error"):
            result["token_failed"] = True
        if result.get("msg"):
            result["msg"] = module.redactor.scrub(result["msg"])
        if item_module.params.get("name"):
            result["name"] = item_module.params["name"]
        if result.get("failed"):
            failures.append(module.redactor.scrub("%s: %s" % (label, result.get("msg"))))
        results.append(result)
    output = {"changed": any(result.get("changed") for result in results), option: results}
    if failures:
        module.fail_json(msg=failure_message(noun, failures, len(results)), **output)
    return output
