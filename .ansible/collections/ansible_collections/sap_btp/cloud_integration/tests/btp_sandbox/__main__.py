"""Command line: `python -m btp_sandbox serve --state-file PATH [--config FILE] [--profile fast|realistic]`.

Runs in the foreground. Once every listener is ready it writes PATH (the JSON connection file) atomically.
SIGTERM or SIGINT stops it cleanly (exit code 0); PATH is then removed, unless --keep-state-file is given.
"""

import argparse
import logging
import signal
import sys
import threading

from .config import load_config
from .server import Sandbox


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m btp_sandbox", description="Local stand-in for SAP BTP")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the sandbox in the foreground")
    serve.add_argument("--state-file", required=True, help="connection file written once the sandbox is ready")
    serve.add_argument("--config", help="YAML or JSON file with setting overrides")
    serve.add_argument("--profile", choices=("fast", "realistic"), help="timing profile (default: fast)")
    serve.add_argument("--persist", metavar="FILE", help="persist instances and keys to FILE (overrides config)")
    serve.add_argument("--keep-state-file", action="store_true", help="do not remove the connection file on exit")
    serve.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        config = load_config(args.config, profile=args.profile)
    except (OSError, ValueError) as exc:
        print("btp_sandbox: bad configuration: %s" % exc, file=sys.stderr)
        return 2
    if args.persist:
        config.persistence_file = args.persist
    stop = threading.Event()

    def _signal(signum, _frame):
        logging.getLogger("btp_sandbox").info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _signal)
    signal.signal(signal.SIGINT, _signal)
    sandbox = Sandbox(config, state_file=args.state_file)
    sandbox.start()
    print("btp_sandbox ready in %.3f s; connection file %s; cf %s; admin %s" % (
        sandbox.started_in_s, args.state_file, sandbox.cf_url, sandbox.admin_url), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sandbox.stop(remove_state_file=not args.keep_state_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
