pytest_plugins = ["btp_sandbox.pytest_plugin"]
