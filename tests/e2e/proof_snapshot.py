# -*- coding: utf-8 -*-
"""Print a JSON snapshot of what a failing task must not change (used by the bad-input catalogue playbook).

    python proof_snapshot.py ADMIN_URL CA_BUNDLE WORK_DIR

{"sandbox": sha256 of the sandbox's instances/keys/jobs signature, "instances": n, "keys": n, "jobs": n,
 "files": {relative path: "size:sha256"} of every file under WORK_DIR}
"""

import hashlib
import json
import sys
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from proof_helpers import sandbox_signature, tree_signature  # noqa: E402  pylint: disable=wrong-import-position


def main():
    admin, ca, work = sys.argv[1:4]
    state = requests.get(admin + "/state", verify=ca, timeout=30).json()
    signature = sandbox_signature(state)
    files = {path: "%d:%s" % (size, digest[:16]) for path, (size, digest) in tree_signature(work).items()}
    print(json.dumps({"sandbox": hashlib.sha256(json.dumps(signature, sort_keys=True).encode()).hexdigest()[:24],
                      "instances": len(signature["instances"]), "keys": len(signature["keys"]), "jobs": signature["jobs"],
                      "files": files}))


if __name__ == "__main__":
    main()
