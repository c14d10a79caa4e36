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


def expand(params, option, item_options, exclusive=(), identity=("name",)):
    """The parameters of every item of ``params[option]``.

    ``item_options``: the option names an item may set; an item value of None inherits the task's value.
    ``exclusive``: pairs of option groups; an item that sets an option of one group inherits nothing of the other.
    ``identity``: the options (after inheritance) that tell items apart; the first one must be set in every item.
    Raises ParameterError (naming ``option[index]``) for a missing name or an item listed twice.
    """
    items = params.get(option) or []
    expanded, seen = [], set()
    for index, item in enumerate(items):
        own = {name: value for name, value in (item or {}).items() if name in item_options and value is not None}
        where = item_label(option, index, own.get(identity[0]))
        if not own.get(identity[0]):
            raise ParameterError(where, "every item needs a %s" % identity[0])
        merged = {name: value for name, value in params.items() if name != option}
        for first, second in exclusive:
            if any(name in own for name in first):
                merged.update({name: None for name in second})
            if any(name in own for name in second):
                merged.update({name: None for name in first})
        merged.update(own)
        ident = tuple(merged.get(name) for name in identity)
        if ident in seen:
            raise ParameterError(where, "%s is listed twice" % ", ".join(
                "%s %r" % (name, value) for name, value in zip(identity, ident) if value is not None))
        seen.add(ident)
        expanded.append(merged)
    return expanded


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


def run_batch(module, option, items, make, client_factory, noun, identify, result_key=None, finalise=None):
    """The batch of a module. ``make(item)`` gives a manager (``validate()``, ``present()`` / ``absent()``, ``client``,
    ``p``); every item is validated before ``client_factory(module)`` builds the one shared client, then the items run
    on ``module.params['concurrency']`` threads. Returns ``{changed, <result_key>: results, diff}`` (results in item
    order; a failed item is ``identify(manager)`` with ``failed``, ``changed`` and ``msg``), or fails with a message
    that names every failed item. ``finalise(output, failed)`` may adjust the output first."""
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
    results, diffs, failures = [], [], []
    for manager, (result, error) in zip(managers, run_items(managers, apply_state, concurrency)):
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
