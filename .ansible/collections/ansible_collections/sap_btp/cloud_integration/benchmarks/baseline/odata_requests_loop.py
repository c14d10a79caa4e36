# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""B4 baseline: read MessageProcessingLogs with a bare `requests` loop (one Session, so keep-alive).

    python odata_requests_loop.py --key KEY.json --ca CA.pem --max-items 20000 --page-size 1000 --dest OUT.jsonl

It fetches one client-credentials token, then follows `__next` (or `$skip` when the server gives no next link) at
the given page size, writing every entity as one JSON line to --dest, which is the same work the module does
with `dest`. Prints one JSON line: {"items": N, "pages": P, "seconds": S, "max_rss_kb": R}.
"""

import argparse
import json
import resource
import time
from urllib.parse import urljoin

import requests


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--key", required=True, help="api-plan service key JSON (with or without the oauth wrapper)")
    parser.add_argument("--ca", required=True)
    parser.add_argument("--max-items", type=int, default=20000)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--dest", required=True)
    args = parser.parse_args()

    started = time.monotonic()
    with open(args.key, encoding="utf-8") as handle:
        key = json.load(handle)
    key = key.get("oauth", key)
    session = requests.Session()
    token = session.post(key["tokenurl"], data={"grant_type": "client_credentials"},
                         auth=(key["clientid"], key["clientsecret"]), timeout=30, verify=args.ca)
    token.raise_for_status()
    session.headers.update({"Authorization": "Bearer " + token.json()["access_token"], "Accept": "application/json"})
    url = key["url"].rstrip("/") + "/api/v1/MessageProcessingLogs"
    # the same request as odata_request with max_items: no $top, the server's pages (its cap, --page-size) via __next
    params = None
    items = pages = 0
    with open(args.dest, "w", encoding="utf-8") as out:
        while url and items < args.max_items:
            # verify per request: REQUESTS_CA_BUNDLE in the environment would override a session setting
            response = session.get(url, params=params, timeout=60, verify=args.ca)
            response.raise_for_status()
            data = response.json()["d"]
            results = data.get("results", [])
            pages += 1
            for entity in results[:args.max_items - items]:
                entity.pop("__metadata", None)
                out.write(json.dumps(entity) + "\n")
            items += min(len(results), args.max_items - items)
            if not results:
                break
            next_link = data.get("__next")
            if next_link:
                url, params = urljoin(url, next_link), None
            else:
                params = {"$top": str(args.page_size), "$skip": str(items)}
    print(json.dumps({"items": items, "pages": pages, "seconds": round(time.monotonic() - started, 3),
                      "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))


if __name__ == "__main__":
    main()
