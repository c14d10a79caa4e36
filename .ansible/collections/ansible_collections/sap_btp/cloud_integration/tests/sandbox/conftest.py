"""Shared fixtures of the sandbox fidelity suite."""

import pytest

from tenant_clients import CfClient, tenant_info

pytest_plugins = ["btp_sandbox.pytest_plugin"]


@pytest.fixture(scope="module")
def conn(btp_sandbox):
    """The connection file of the session sandbox."""
    return btp_sandbox.connection


@pytest.fixture(scope="module")
def acme(conn):
    """Connection details of the default tenant."""
    return tenant_info(conn, "acme")


@pytest.fixture(scope="module")
def cf(conn):
    """A small CF v3 client that creates instances and keys in the sandbox."""
    return CfClient(conn)
