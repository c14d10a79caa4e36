"""pytest plugin: `btp_sandbox` (session-scoped, in-process sandbox, fast profile) and `sandbox_factory`.

Use it with `pytest_plugins = ["btp_sandbox.pytest_plugin"]` in a conftest.py.
"""

import pytest

from .config import load_config
from .server import Sandbox


@pytest.fixture(scope="session")
def btp_sandbox(tmp_path_factory):
    """A running Sandbox (fast profile). `.connection` holds the connection-file dict."""
    state_file = tmp_path_factory.mktemp("btp_sandbox") / "connection.json"
    sandbox = Sandbox(load_config(profile="fast"), state_file=str(state_file))
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def sandbox_factory(tmp_path):
    """Start sandboxes with custom settings: `sandbox_factory({"broker": {...}}, profile="fast")`.

    Every sandbox started through the factory is stopped at the end of the test.
    """
    started = []

    def factory(overrides=None, profile="fast", config_file=None, start=True):
        config = load_config(config_file, profile=profile, overrides=overrides)
        sandbox = Sandbox(config, state_file=str(tmp_path / ("connection-%d.json" % len(started))))
        started.append(sandbox)
        if start:
            sandbox.start()
        return sandbox

    yield factory
    for sandbox in started:
        if sandbox.started:
            sandbox.stop()
