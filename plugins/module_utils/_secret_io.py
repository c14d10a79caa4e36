# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. Writes files that hold secrets: atomically, 0600 by default, only on change.

A write goes to a temporary file created with mkstemp (mode 0600) in the destination directory, is flushed
and fsynced, then renamed over the destination with AnsibleModule.atomic_move, so readers see either the old
or the new file and never a partial one. When the destination is new, atomic_move would chmod it to
0666 & ~umask right after the rename; the process umask is tightened to 077 around the move so that a secret
is never readable by others, not even for an instant. Owner, group and mode are applied afterwards with the
module's standard attribute handling (check mode aware).

Every operation first validates the destination (directory exists and is writable, path is not a directory)
so that a bad path fails before anything is touched, then compares the current content with the new one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ParameterError

DEFAULT_MODE = "0600"


@contextlib.contextmanager
def private_umask():
    """Temporarily set the process umask to 077 (modules are single-threaded processes)."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def read_file(path, option="path"):
    """Return the bytes of path, or None when it does not exist."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise ParameterError(option, "%s is a directory" % path) from None
    except OSError as exc:
        raise ParameterError(option, "cannot read %s: %s" % (path, exc.strerror)) from None


def read_text(path, option, what="the file", binary_hint="expected text"):
    """Return the text of a file that must exist; every error names the option."""
    data = read_file(path, option)
    if data is None:
        raise ParameterError(option, "%s %s does not exist" % (what, path))
    return decode_text(data, path, option, binary_hint)


def decode_text(data, path, option, binary_hint="expected text"):
    """Decode UTF-8 file content, or fail naming the option."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ParameterError(option, "%s is not a text file (%s)" % (path, binary_hint)) from None


def check_writable(path, option="path", module=None):
    """Fail (touching nothing) when path cannot be written: missing or read-only directory, or a directory.

    In check mode (module given), a directory that does not exist yet is a prediction, not a failure: an earlier task
    of the play that creates it did not run in check mode. The file is then predicted as created, with a warning.
    """
    if not path:
        raise ParameterError(option, "a file path is required")
    if os.path.isdir(path):
        raise ParameterError(option, "%s is a directory, not a file" % path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        if module is not None and module.check_mode and not os.path.exists(directory):
            module.warn("%s: the directory %s does not exist yet; check mode predicts %s as created, and the real run needs the "
                        "directory (created by an earlier task)" % (option, directory, path))
            return
        raise ParameterError(option, "the directory %s does not exist" % directory)
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ParameterError(option, "the directory %s is not writable by the current user" % directory)
    if os.path.exists(path) and not os.access(path, os.R_OK):
        raise ParameterError(option, "%s exists but is not readable by the current user, so it cannot be compared" % path)


def file_args(module, path, mode=None, owner=None, group=None):
    """The file attribute arguments AnsibleModule.set_fs_attributes_if_different expects (no SELinux changes)."""
    return module.load_file_common_arguments({"path": path, "mode": mode if mode is not None else DEFAULT_MODE, "owner": owner, "group": group})


def _write_temp(directory, content):
    try:
        fd, temp = tempfile.mkstemp(dir=directory, prefix=".sap_btp-")
    except OSError as exc:
        raise ParameterError("path", "cannot create a file in %s: %s" % (directory, exc.strerror)) from None
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return temp


def write_files(module, items):
    """Write several files as one unit: nothing is replaced unless every new file could be staged.

    items: dicts with path, content (bytes) and optional mode, owner, group, backup, same, diff (see write_file).
    All destinations are validated, all changed contents are written to temporary files next to their
    destinations, and only then are the temporary files renamed into place. Returns one result per item.
    """
    for item in items:
        check_writable(item["path"], module=module)
    results = []
    for item in items:
        existing = read_file(item["path"])
        if existing is None:
            content_changed = True
        elif item.get("same") is not None:
            content_changed = not item["same"](existing)
        else:
            content_changed = existing != item["content"]
        results.append({"changed": False, "content_changed": content_changed, "created": existing is None, "backup_file": None})
    temps = {}
    try:
        if not module.check_mode:
            for index, item in enumerate(items):
                if results[index]["content_changed"]:
                    temps[index] = _write_temp(os.path.dirname(os.path.abspath(item["path"])), item["content"])
            for index, temp in temps.items():
                item = items[index]
                if not results[index]["created"] and item.get("backup"):
                    results[index]["backup_file"] = module.backup_local(item["path"])
                with private_umask():
                    module.atomic_move(temp, item["path"])
    finally:
        for temp in temps.values():
            if os.path.exists(temp):
                module.cleanup(temp)
    for item, result in zip(items, results):
        attrs_changed = False
        if os.path.exists(item["path"]):
            args = file_args(module, item["path"], item.get("mode"), item.get("owner"), item.get("group"))
            attrs_changed = module.set_fs_attributes_if_different(args, False, diff=item.get("diff"))
        result["changed"] = bool(result["content_changed"] or attrs_changed)
    return results


def write_file(module, path, content, mode=None, owner=None, group=None, backup=False, same=None, diff=None):
    """Write content (bytes) to path if it differs; then enforce owner/group/mode.

    same: optional callable(existing_bytes) -> bool deciding whether the existing content is equivalent
    (used for salted formats such as PKCS#12). Without it, bytes are compared.
    diff: optional dict that receives the attribute changes (before/after mode, owner, group).
    Returns dict(changed, content_changed, created, backup_file).
    """
    return write_files(module, [{"path": path, "content": content, "mode": mode, "owner": owner, "group": group, "backup": backup,
                                 "same": same, "diff": diff}])[0]


def remove_file(module, path, backup=False):
    """Remove path if it exists (check mode aware). Returns dict(changed, backup_file)."""
    if os.path.isdir(path):
        raise ParameterError("path", "%s is a directory, not a file" % path)
    if not os.path.lexists(path):
        return {"changed": False, "backup_file": None}
    directory = os.path.dirname(os.path.abspath(path))
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ParameterError("path", "cannot remove %s: the directory %s is not writable by the current user" % (path, directory))
    result = {"changed": True, "backup_file": None}
    if not module.check_mode:
        if backup and os.path.isfile(path):
            result["backup_file"] = module.backup_local(path)
        try:
            os.unlink(path)
        except OSError as exc:
            raise ParameterError("path", "cannot remove %s: %s" % (path, exc.strerror)) from None
    return result
