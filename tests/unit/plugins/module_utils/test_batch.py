# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils/_batch.py: expanding the items of a batch, validating them, running them on threads."""
from __future__ import annotations

import copy
import threading
import time

import pytest

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _batch
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._deps import MissingDependencyError
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ApiError, ParameterError
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._redact import Redactor

ITEM_OPTIONS = ("name", "state", "plan", "roles", "grant_types", "redirect_uris", "token_validity", "parameters", "tags")
EXCLUSIVE = ((("parameters",), ("roles", "grant_types", "redirect_uris", "token_validity")),)
TYPED = ("roles", "grant_types", "redirect_uris", "token_validity")

# A barrier or event that is never released fails the test after this many seconds instead of hanging it.
WAIT = 10


def task(**options):
    """Task-level parameters as AnsibleModule hands them over: every option present, unset ones None."""
    params = {"name": None, "instances": None, "concurrency": 8, "state": "present", "offering": "it-rt", "plan": None,
              "roles": None, "grant_types": None, "redirect_uris": None, "token_validity": None, "parameters": None,
              "tags": None, "wait": True, "wait_timeout": 600}
    params.update(options)
    return params


def item(**options):
    """An item as AnsibleModule hands it over: every suboption present, unset ones None."""
    entry = {name: None for name in ITEM_OPTIONS}
    entry.update(options)
    return entry


def expand(params):
    return _batch.expand(params, "instances", ITEM_OPTIONS, EXCLUSIVE)


# ---- expand -------------------------------------------------------------------------------------------------------
def test_expand_items_inherit_the_task_options():
    params = task(plan="integration-flow", roles=["ESBMessaging.send"], tags=["team-a"], wait=False, instances=[
        item(name="a"),
        item(name="b", plan="api", roles=["MonitoringDataRead"], state="absent"),
        item(name="c", tags=[]),
    ])
    a, b, c = expand(params)
    assert a["name"] == "a" and a["plan"] == "integration-flow" and a["roles"] == ["ESBMessaging.send"] and a["tags"] == ["team-a"]
    assert a["state"] == "present"
    assert b["plan"] == "api" and b["roles"] == ["MonitoringDataRead"] and b["state"] == "absent" and b["tags"] == ["team-a"]
    # a value that is set, even an empty list, wins over the task's
    assert c["tags"] == []
    # options an item cannot set come from the task; the list itself does not
    for merged in (a, b, c):
        assert merged["wait"] is False and merged["offering"] == "it-rt" and merged["wait_timeout"] == 600
        assert "instances" not in merged


def test_expand_none_values_inherit():
    params = task(plan="api", roles=["MonitoringDataRead"], token_validity=7200, state="present",
                  instances=[item(name="a", plan=None, roles=None, token_validity=None, state=None)])
    (merged,) = expand(params)
    assert merged["plan"] == "api" and merged["roles"] == ["MonitoringDataRead"] and merged["token_validity"] == 7200
    assert merged["state"] == "present"


def test_expand_ignores_keys_an_item_may_not_set():
    params = task(plan="api", wait=True, offering="it-rt",
                  instances=[{"name": "a", "wait": False, "offering": "destination", "instances": [{"name": "x"}]}])
    (merged,) = expand(params)
    assert merged["wait"] is True and merged["offering"] == "it-rt" and "instances" not in merged


def test_expand_item_parameters_inherit_none_of_the_typed_options():
    raw = {"roles": ["ESBMessaging.send"], "token-validity": 5400}
    params = task(plan="integration-flow", roles=["ESBMessaging.send"], grant_types=["client_credentials"],
                  redirect_uris=["https://example.com/cb"], token_validity=7200, tags=["t"],
                  instances=[item(name="raw", parameters=raw), item(name="typed")])
    raw_item, typed_item = expand(params)
    assert raw_item["parameters"] == raw
    assert all(raw_item[option] is None for option in TYPED)
    # options outside the exclusive groups are still inherited
    assert raw_item["plan"] == "integration-flow" and raw_item["tags"] == ["t"]
    # the other item keeps the task's typed options
    assert typed_item["roles"] == ["ESBMessaging.send"] and typed_item["token_validity"] == 7200 and typed_item["parameters"] is None


@pytest.mark.parametrize("option", TYPED)
def test_expand_item_typed_option_does_not_inherit_task_parameters(option):
    value = 7200 if option == "token_validity" else ["x"]
    params = task(plan="integration-flow", parameters={"roles": ["ESBMessaging.send"]},
                  instances=[item(name="typed", **{option: value}), item(name="raw")])
    typed_item, raw_item = expand(params)
    assert typed_item["parameters"] is None and typed_item[option] == value
    assert raw_item["parameters"] == {"roles": ["ESBMessaging.send"]}


def test_expand_typed_options_of_one_group_still_inherit_each_other():
    """An item that sets roles drops the task's parameters, but keeps the task's token_validity (same group)."""
    params = task(plan="integration-flow", token_validity=7200, parameters=None, instances=[item(name="a", roles=["R"])])
    (merged,) = expand(params)
    assert merged["roles"] == ["R"] and merged["token_validity"] == 7200 and merged["parameters"] is None


def test_expand_does_not_change_the_task_parameters_and_items_are_separate():
    params = task(plan="integration-flow", roles=["ESBMessaging.send"],
                  instances=[item(name="a", parameters={"roles": ["x"]}), item(name="b")])
    before = copy.deepcopy(params)
    a, b = expand(params)
    assert params == before
    a["plan"] = "changed"
    assert b["plan"] == "integration-flow" and params["plan"] == "integration-flow"


@pytest.mark.parametrize("items, where, reason", [
    ([item(name="a"), item(name="b"), item(name="a")], "instances[2] 'a'", "name 'a' is listed twice"),
    ([item(name="a"), item(plan="api")], "instances[1]", "every item needs a name"),
    ([item(name="")], "instances[0]", "every item needs a name"),
    ([item(name="a"), None], "instances[1]", "every item needs a name"),
    ([{}], "instances[0]", "every item needs a name"),
])
def test_expand_name_errors(items, where, reason):
    with pytest.raises(ParameterError) as info:
        expand(task(plan="api", instances=items))
    assert info.value.option == where
    assert str(info.value) == "%s: %s" % (where, reason)


def test_expand_no_items():
    assert expand(task(instances=[])) == []
    assert expand(task(instances=None)) == []
    assert expand(task()) == []


def test_expand_other_option_and_identity():
    params = {"keys": [{"key": "k1"}, {"key": "k2", "size": 2}], "size": 1}
    assert _batch.expand(params, "keys", ("key", "size"), identity=("key",)) == [{"key": "k1", "size": 1}, {"key": "k2", "size": 2}]
    with pytest.raises(ParameterError, match=r"^keys\[1\] 'k1': key 'k1' is listed twice$"):
        _batch.expand({"keys": [{"key": "k1"}, {"key": "k1"}]}, "keys", ("key",), identity=("key",))
    with pytest.raises(ParameterError, match=r"^keys\[0\]: every item needs a key$"):
        _batch.expand({"keys": [{"size": 1}]}, "keys", ("key", "size"), identity=("key",))


def test_expand_identity_of_several_options():
    """The same name under another instance is another item; the identity is compared after inheritance."""
    options = ("name", "instance")
    params = {"instance": "inst-a", "keys": [{"name": "k1"}, {"name": "k1", "instance": "inst-b"}, {"name": "k2"}]}
    expanded = _batch.expand(params, "keys", options, identity=("name", "instance"))
    assert [(entry["name"], entry["instance"]) for entry in expanded] == [("k1", "inst-a"), ("k1", "inst-b"), ("k2", "inst-a")]
    # an item that names the task's instance itself is the same item as one that inherits it
    params["keys"].append({"name": "k2", "instance": "inst-a"})
    with pytest.raises(ParameterError) as info:
        _batch.expand(params, "keys", options, identity=("name", "instance"))
    assert str(info.value) == "keys[3] 'k2': name 'k2', instance 'inst-a' is listed twice"
    # an identity option that is unset everywhere is left out of the message
    with pytest.raises(ParameterError) as info:
        _batch.expand({"instance": None, "keys": [{"name": "k1"}, {"name": "k1"}]}, "keys", options, identity=("name", "instance"))
    assert str(info.value) == "keys[1] 'k1': name 'k1' is listed twice"


# ---- check_concurrency -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [1, 2, 8, 31, 32])
def test_check_concurrency_accepts(value):
    assert _batch.check_concurrency(value) == value


@pytest.mark.parametrize("value", [0, -1, 33, 1000, None])
def test_check_concurrency_rejects(value):
    with pytest.raises(ParameterError) as info:
        _batch.check_concurrency(value)
    assert info.value.option == "concurrency"
    assert str(info.value) == "concurrency: must be between 1 and 32, got %s" % value


def test_check_concurrency_names_the_option():
    with pytest.raises(ParameterError, match=r"^workers: must be between 1 and 32, got 0$"):
        _batch.check_concurrency(0, option="workers")
    assert _batch.MAX_CONCURRENCY == 32


# ---- item_parameter_error ------------------------------------------------------------------------------------------------
def test_item_parameter_error_names_the_item_and_its_option():
    where = _batch.item_label("instances", 2, "partner-b")
    error = _batch.item_parameter_error(ParameterError("plan", "'iflow' is not a plan of it-rt"), where)
    assert isinstance(error, ParameterError)
    assert error.option == "instances[2] 'partner-b'" and error.reason == "plan: 'iflow' is not a plan of it-rt"
    assert str(error) == "instances[2] 'partner-b': plan: 'iflow' is not a plan of it-rt"
    assert _batch.item_label("instances", 0) == "instances[0]"  # an item without a name


@pytest.mark.parametrize("option", [None, ""])
def test_item_parameter_error_without_option(option):
    error = _batch.item_parameter_error(ParameterError(option, "something is wrong"), "instances[0]")
    assert error.option == "instances[0]"
    assert str(error) == "instances[0]: something is wrong"


def test_item_parameter_error_does_not_nest_the_message():
    """The item error is built from the reason, not from str(exc), which already carries the option."""
    error = _batch.item_parameter_error(ParameterError("roles", "'x' is listed twice"), "instances[1]")
    assert str(error).count("roles") == 1


# ---- run_items --------------------------------------------------------------------------------------------------------
def test_run_items_runs_concurrently():
    """Every handler waits for all the others: a sequential run breaks the barrier (after WAIT s) instead of passing."""
    items = list(range(6))
    barrier = threading.Barrier(len(items), timeout=WAIT)
    threads = set()

    def handler(value):
        threads.add(threading.get_ident())
        barrier.wait()
        return value * 10

    started = time.monotonic()
    outcomes = _batch.run_items(items, handler, concurrency=8)
    assert outcomes == [(value * 10, None) for value in items]
    assert len(threads) == len(items) and threading.get_ident() not in threads
    assert time.monotonic() - started < WAIT


def test_run_items_keeps_the_order_of_the_items():
    """The items finish in reverse order (each waits for the next one); the outcomes are in item order."""
    items = ["a", "b", "c", "d", "e"]
    done = {name: threading.Event() for name in items}
    finished = []

    def handler(name):
        index = items.index(name)
        if index + 1 < len(items):
            assert done[items[index + 1]].wait(WAIT), "%s waited in vain for %s: the items did not run concurrently" % (name, items[index + 1])
        finished.append(name)
        done[name].set()
        return name.upper()

    outcomes = _batch.run_items(items, handler, concurrency=len(items))
    assert finished == list(reversed(items))
    assert outcomes == [(name.upper(), None) for name in items]


def test_run_items_respects_the_concurrency():
    items = list(range(8))
    lock = threading.Lock()
    active, peak = [0], [0]
    pair = threading.Barrier(2, timeout=WAIT)  # two at a time, so the peak is reached

    def handler(value):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        pair.wait()
        time.sleep(0.01)
        with lock:
            active[0] -= 1
        return value

    assert _batch.run_items(items, handler, concurrency=2) == [(value, None) for value in items]
    assert peak[0] == 2


@pytest.mark.parametrize("items, concurrency", [(["a", "b", "c"], 1), (["a"], 8)])
def test_run_items_sequential_in_the_calling_thread(items, concurrency):
    threads = []

    def handler(value):
        threads.append(threading.get_ident())
        return value

    assert _batch.run_items(items, handler, concurrency) == [(value, None) for value in items]
    assert set(threads) == {threading.get_ident()}


def test_run_items_no_items():
    assert _batch.run_items([], lambda value: value, 8) == []


@pytest.mark.parametrize("concurrency", [1, 4])
def test_run_items_collects_item_errors_and_runs_the_others(concurrency):
    errors = {
        "param": ParameterError("plan", "bad plan"),
        "api": ApiError("Creating service instance 'api' failed: 422", status=422),
        "dep": MissingDependencyError("requests"),
    }
    items = ["ok1", "param", "api", "dep", "ok2"]
    called = []
    lock = threading.Lock()

    def handler(name):
        with lock:
            called.append(name)
        if name in errors:
            raise errors[name]
        return {"name": name}

    outcomes = _batch.run_items(items, handler, concurrency)
    assert sorted(called) == sorted(items)
    assert outcomes == [({"name": "ok1"}, None), (None, errors["param"]), (None, errors["api"]), (None, errors["dep"]), ({"name": "ok2"}, None)]


def test_run_items_an_early_failure_does_not_stop_items_still_running():
    """The first item fails while the others are waiting at the barrier; they still finish."""
    items = ["fails", "b", "c"]
    barrier = threading.Barrier(2, timeout=WAIT)

    def handler(name):
        if name == "fails":
            raise ApiError("broker says no")
        barrier.wait()
        return name

    outcomes = _batch.run_items(items, handler, concurrency=3)
    assert outcomes[0][0] is None and str(outcomes[0][1]) == "broker says no"
    assert outcomes[1:] == [("b", None), ("c", None)]


@pytest.mark.parametrize("concurrency", [1, 4])
def test_run_items_other_exceptions_propagate(concurrency):
    def handler(name):
        if name == "bug":
            raise KeyError("programming error")
        return name

    with pytest.raises(KeyError, match="programming error"):
        _batch.run_items(["a", "bug", "c"], handler, concurrency)


# ---- run_batch: deferred items ----------------------------------------------------------------------------------------
class BatchFailed(Exception):
    pass


class BatchModule:
    def __init__(self, concurrency):
        self.params = {"concurrency": concurrency}
        self._diff = False
        self.redactor = Redactor()

    def fail_json(self, **result):
        raise BatchFailed(result)


class BatchClient:
    org = space = None

    def access_token(self):
        return "token"


class DeferringManager:
    """An item whose last lookup is deferred; finishing it waits on ``gate`` (a barrier: all finishes at once)."""

    def __init__(self, name, gate, fail=False):
        self.p = {"name": name, "state": "present"}
        self.client = None
        self.gate = gate
        self.fail = fail

    def validate(self):
        pass

    def present(self):
        return _batch.Deferred(self.p["name"], self.finish)

    def finish(self, resource):
        self.gate.wait()
        if self.fail:
            raise ApiError("Creating '%s' failed" % self.p["name"])
        return {"changed": True, "name": self.p["name"], "resource": resource, "thread": threading.get_ident(), "diff": {}}


def run_deferred(names, failing=(), concurrency=8):
    gate = threading.Barrier(len(names), timeout=WAIT) if concurrency > 1 else threading.Barrier(1)
    lookups = []

    def resolve(client, keys):
        lookups.append(list(keys))
        return {key: "resource of %s" % key for key in keys}

    return _batch.run_batch(BatchModule(concurrency), "items", names, lambda name: DeferringManager(name, gate, name in failing),
                            lambda module: BatchClient(), "items", lambda manager: {"name": manager.p["name"]},
                            resolve=resolve), lookups


def test_run_batch_finishes_deferred_items_concurrently_in_item_order():
    """Every finish waits for all the others: finishing them one after the other breaks the barrier."""
    names = ["a", "b", "c", "d", "e"]
    output, lookups = run_deferred(names)
    assert lookups == [names]
    assert [result["name"] for result in output["items"]] == names
    assert [result["resource"] for result in output["items"]] == ["resource of %s" % name for name in names]
    assert len({result["thread"] for result in output["items"]}) == len(names)
    assert output["changed"] is True


def test_run_batch_deferred_item_failures_are_reported_per_item():
    names = ["a", "b", "c"]
    with pytest.raises(BatchFailed) as failed:
        run_deferred(names, failing=("b",))
    result = failed.value.args[0]
    assert result["msg"] == "1 of 3 items failed: b: Creating 'b' failed"
    assert [item["name"] for item in result["items"]] == names
    assert result["items"][1] == {"name": "b", "failed": True, "changed": False, "msg": "b: Creating 'b' failed"}
    assert result["items"][0]["resource"] == "resource of a" and result["items"][2]["resource"] == "resource of c"


def test_run_batch_deferred_items_with_concurrency_one():
    output, dummy = run_deferred(["a", "b"], concurrency=1)
    assert [result["name"] for result in output["items"]] == ["a", "b"]


# ---- failure_message ------------------------------------------------------------------------------------------------------
def test_failure_message():
    message = _batch.failure_message("service instances", ["a: plan: bad", "b: Creating service instance 'b' failed"], 25)
    assert message == "2 of 25 service instances failed: a: plan: bad; b: Creating service instance 'b' failed"


def test_failure_message_one_failure():
    assert _batch.failure_message("service keys", ["k: gone"], 1) == "1 of 1 service keys failed: k: gone"
