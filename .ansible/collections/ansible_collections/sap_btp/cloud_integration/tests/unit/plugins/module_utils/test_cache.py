# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import multiprocessing
import os
import stat
import time

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._cache import FileCache, cache_key, default_cache_dir


def test_put_get_and_modes(tmp_path):
    cache = FileCache("tokens", directory=str(tmp_path / "c"))
    key = cache_key("https://t/oauth/token", "client", "basic")
    assert cache.get(key) is None
    cache.put(key, {"access_token": "x"}, expires_at=time.time() + 3600)
    assert cache.get(key) == {"access_token": "x"}
    assert stat.S_IMODE(os.stat(cache.directory).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(os.path.join(cache.directory, key + ".json")).st_mode) == 0o600


def test_min_ttl_expires_entries(tmp_path):
    cache = FileCache("tokens", directory=str(tmp_path))
    cache.put("k", "v", expires_at=time.time() + 200)
    assert cache.get("k", min_ttl=100) == "v"
    assert cache.get("k", min_ttl=300) is None


def test_loose_directory_permissions_are_tightened(tmp_path):
    base = tmp_path / "c"
    os.makedirs(base / "tokens")
    os.chmod(base, 0o777)
    FileCache("tokens", directory=str(base)).put("k", 1)
    assert stat.S_IMODE(os.stat(base).st_mode) == 0o700


def test_key_does_not_reveal_parts():
    key = cache_key("https://t", "my-client-id")
    assert "my-client-id" not in key and len(key) == 64
    assert key != cache_key("https://t", "other")


def test_env_overrides_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("SAP_BTP_CACHE_DIR", str(tmp_path / "x"))
    assert default_cache_dir() == str(tmp_path / "x")


def _worker(directory, counter_path, results):
    cache = FileCache("tokens", directory=directory)

    def fetch():
        with open(counter_path, "a", encoding="utf-8") as handle:
            handle.write("fetch\n")
        time.sleep(0.3)
        return "token", time.time() + 3600

    value, _unused = cache.get_or_fetch("same", fetch)
    results.put(value)


def test_concurrent_forks_fetch_once(tmp_path):
    counter = tmp_path / "count"
    counter.write_text("")
    results = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=_worker, args=(str(tmp_path / "c"), str(counter), results)) for _index in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(30)
    assert [results.get(timeout=5) for _index in range(4)] == ["token"] * 4
    assert counter.read_text().count("fetch") == 1
