# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.sap_btp.cloud_integration.plugins.filter.client_keys import FilterModule, client_keys

CLIENT = {"instance": "orders", "key_name": "orders-sender-key-for-partners"}  # longer than 19 characters


def key(name, created, instance="orders", state="succeeded"):
    return {"name": name, "instance": instance, "created_at": created, "last_operation": {"state": state}}


KEYS = [
    key("orders-sender-key-f-260101120000", "2026-01-01T12:00:00Z"),
    key("orders-sender-key-for-partners", "2025-06-01T08:00:00Z"),
    key("orders-sender-key-f-260301120000", "2026-03-01T12:00:00Z", state="failed"),
    key("orders-sender-key-for-partners", "2025-06-01T08:00:00Z", instance="other"),  # another instance
    key("orders-sender-key-f-2603", "2026-03-02T12:00:00Z"),  # not a rotation name (12 digits)
    key("orders-sender-key-for-partners-old", "2026-04-01T12:00:00Z"),  # another key name
]


def test_keys_of_the_client_oldest_first_without_failed_creates():
    names = [k["name"] for k in client_keys(KEYS, CLIENT)]
    assert names == ["orders-sender-key-for-partners", "orders-sender-key-f-260101120000"]


def test_failed_creates_on_request():
    names = [k["name"] for k in client_keys(KEYS, CLIENT, failed=True)]
    assert names == ["orders-sender-key-for-partners", "orders-sender-key-f-260101120000", "orders-sender-key-f-260301120000"]


def test_same_creation_time_is_ordered_by_name():
    keys = [key("k-250101000002", "2025-01-01T00:00:00Z"), key("k", "2025-01-01T00:00:00Z"), key("k-250101000001", "2025-01-01T00:00:00Z")]
    assert [k["name"] for k in client_keys(keys, {"instance": "orders", "key_name": "k"})] == ["k", "k-250101000001", "k-250101000002"]


def test_the_name_is_matched_literally():
    keys = [key("a.b", "2025-01-01T00:00:00Z"), key("axb", "2025-01-01T00:00:00Z")]
    assert [k["name"] for k in client_keys(keys, {"instance": "orders", "key_name": "a.b"})] == ["a.b"]


def test_no_key():
    assert client_keys([], CLIENT) == []


@pytest.mark.parametrize("keys, client, message", [
    ({"name": "k"}, CLIENT, "input must be a list"),
    ([], {"instance": "orders"}, "client must be a dict with instance and key_name"),
    ([], "orders", "client must be a dict"),
])
def test_bad_input(keys, client, message):
    with pytest.raises(AnsibleFilterError, match=message):
        client_keys(keys, client)


def test_registered_name():
    assert FilterModule().filters()["client_keys"] is client_keys
