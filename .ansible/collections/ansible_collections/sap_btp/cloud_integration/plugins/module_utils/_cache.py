# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. A small controller-side cache shared across tasks, hosts and forks.

Modules of this collection run on the controller (or in the execution environment), so a per-user
directory on that machine is shared by every fork of a play. Entries are JSON files (mode 0600) in a
directory of mode 0700 owned by the user; writers take an exclusive fcntl lock per entry, so that
concurrent forks needing the same entry wait for the first one instead of each fetching it.

The cache holds access tokens only (never client secrets or private keys). Tokens are stored in clear
text, protected by file permissions, as the cf CLI, gcloud and az CLI do: an encryption key kept next
to them would add no protection. Set SAP_BTP_CACHE_DIR to move the cache, or disable it per task.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import stat
import tempfile
import time

CACHE_ENV = "SAP_BTP_CACHE_DIR"


class CacheError(Exception):
    """The cache directory is unsafe or unusable."""


def default_cache_dir():
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return os.path.expanduser(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "sap_btp.cloud_integration")


def ensure_private_dir(path):
    """Create path (0700) if needed and refuse a directory other users could read or write."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    info = os.stat(path)
    if info.st_uid != os.getuid():
        raise CacheError("cache directory %s is not owned by the current user" % path)
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, 0o700)
    return path


def cache_key(*parts):
    """A stable file name for the given parts (no part is recoverable from it)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(("%s\x00" % (part,)).encode("utf-8"))
    return digest.hexdigest()


class FileCache:
    """JSON entries with an expiry, one file per key, in namespace subdirectories."""

    def __init__(self, namespace, directory=None):
        self.directory = os.path.join(directory or default_cache_dir(), namespace)

    def _prepare(self):
        ensure_private_dir(os.path.dirname(self.directory))
        ensure_private_dir(self.directory)

    def _path(self, key):
        return os.path.join(self.directory, key + ".json")

    def get(self, key, min_ttl=0, now=None):
        """Return the entry's value if it exists and stays valid for at least min_ttl seconds."""
        path = self._path(key)
        try:
            with open(path, "r", encoding="utf-8") as handle:
                entry = json.load(handle)
        except (OSError, ValueError):
            return None
        now = time.time() if now is None else now
        expires_at = entry.get("expires_at")
        if expires_at is not None and expires_at - now < min_ttl:
            return None
        return entry.get("value")

    def put(self, key, value, expires_at=None):
        """Atomically write an entry (0600)."""
        self._prepare()
        fd, temp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"expires_at": expires_at, "value": value}, handle)
            os.chmod(temp, 0o600)
            os.replace(temp, self._path(key))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise

    def delete(self, key):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(key))

    @contextlib.contextmanager
    def locked(self, key):
        """Exclusive lock for one key, held while an entry is fetched and stored."""
        self._prepare()
        fd = os.open(os.path.join(self.directory, key + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def get_or_fetch(self, key, fetch, min_ttl=0):
        """Return (value, fetched) where fetch() -> (value, expires_at) runs at most once across forks."""
        value = self.get(key, min_ttl=min_ttl)
        if value is not None:
            return value, False
        with self.locked(key):
            value = self.get(key, min_ttl=min_ttl)
            if value is not None:
                return value, False
            value, expires_at = fetch()
            self.put(key, value, expires_at=expires_at)
            return value, True
