# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import json
import os
import stat

import pytest

from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _secret_io
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ParameterError


def make_module(monkeypatch, check_mode=False, diff=False):
    args = {"_ansible_check_mode": check_mode, "_ansible_diff": diff}
    monkeypatch.setattr(basic, "_ANSIBLE_ARGS", to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args})))
    monkeypatch.setattr(basic, "_ANSIBLE_PROFILE", "legacy", raising=False)
    return basic.AnsibleModule(argument_spec={}, supports_check_mode=True)


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_new_file_is_0600_even_with_a_permissive_umask(monkeypatch, tmp_path):
    module = make_module(monkeypatch)
    seen_modes = []
    real_move = module.atomic_move

    def spy(src, dest, *args, **kwargs):
        seen_modes.append(mode_of(src))
        real_move(src, dest, *args, **kwargs)
        seen_modes.append(mode_of(dest))  # right after the rename, before attributes are applied

    monkeypatch.setattr(module, "atomic_move", spy)
    old = os.umask(0o000)
    try:
        result = _secret_io.write_file(module, str(tmp_path / "k.json"), b"secret")
    finally:
        os.umask(old)
    assert result["changed"] and result["content_changed"] and result["created"]
    assert seen_modes == [0o600, 0o600]
    assert mode_of(tmp_path / "k.json") == 0o600
    assert (tmp_path / "k.json").read_bytes() == b"secret"
    assert os.listdir(tmp_path) == ["k.json"]  # no temporary file left


def test_unchanged_content_is_not_rewritten(monkeypatch, tmp_path):
    module = make_module(monkeypatch)
    path = str(tmp_path / "k.json")
    _secret_io.write_file(module, path, b"secret")
    inode = os.stat(path).st_ino
    result = _secret_io.write_file(module, path, b"secret")
    assert result["changed"] is False
    assert os.stat(path).st_ino == inode


def test_change_is_atomic_replacement(monkeypatch, tmp_path):
    module = make_module(monkeypatch)
    path = str(tmp_path / "k.json")
    _secret_io.write_file(module, path, b"old")
    inode = os.stat(path).st_ino
    result = _secret_io.write_file(module, path, b"new")
    assert result["changed"] and not result["created"]
    assert os.stat(path).st_ino != inode  # a new file renamed into place, never truncated in place
    assert (tmp_path / "k.json").read_bytes() == b"new"


def test_failed_move_leaves_the_old_file_and_no_temp(monkeypatch, tmp_path):
    module = make_module(monkeypatch)
    path = str(tmp_path / "k.json")
    _secret_io.write_file(module, path, b"old")

    def broken(src, dest, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(module, "atomic_move", broken)
    with pytest.raises(OSError):
        _secret_io.write_file(module, path, b"new")
    assert (tmp_path / "k.json").read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["k.json"]


def test_mode_owner_and_custom_compare(monkeypatch, tmp_path):
    module = make_module(monkeypatch)
    path = str(tmp_path / "k.json")
    _secret_io.write_file(module, path, b"a", mode="0640")
    assert mode_of(path) == 0o640
    diff = {}
    result = _secret_io.write_file(module, path, b"b", mode="0600", same=lambda existing: True, diff=diff)
    assert result["changed"] and not result["content_changed"]
    assert (tmp_path / "k.json").read_bytes() == b"a"
    assert mode_of(path) == 0o600
    assert diff["before"]["mode"] == "0640" and diff["after"]["mode"] == "0600"


def test_check_mode_writes_nothing(monkeypatch, tmp_path):
    module = make_module(monkeypatch, check_mode=True)
    path = str(tmp_path / "k.json")
    result = _secret_io.write_file(module, path, b"secret")
    assert result["changed"] and not os.path.exists(path)
    (tmp_path / "k.json").write_bytes(b"old")
    os.chmod(path, 0o644)
    result = _secret_io.write_file(module, path, b"new")
    assert result["changed"]
    assert (tmp_path / "k.json").read_bytes() == b"old" and mode_of(path) == 0o644


def test_backup(monkeypatch, tmp_path):
    module = make_module(monkeypatch)
    path = str(tmp_path / "k.json")
    _secret_io.write_file(module, path, b"old")
    result = _secret_io.write_file(module, path, b"new", backup=True)
    assert result["backup_file"] and open(result["backup_file"], "rb").read() == b"old"
    assert mode_of(result["backup_file"]) == 0o600


def test_unwritable_destinations_fail_before_anything(monkeypatch, tmp_path):
    module = make_module(monkeypatch)
    with pytest.raises(ParameterError, match="does not exist"):
        _secret_io.write_file(module, str(tmp_path / "missing" / "k.json"), b"x")
    with pytest.raises(ParameterError, match="is a directory"):
        _secret_io.write_file(module, str(tmp_path), b"x")
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    # root bypasses permission bits: simulate a read-only directory for the access check
    monkeypatch.setattr(_secret_io.os, "access", lambda path, flags: False if str(path) == str(locked) else real_access(path, flags))
    with pytest.raises(ParameterError, match="not writable"):
        _secret_io.write_file(module, str(locked / "k.json"), b"x")
    assert os.listdir(locked) == []


def test_remove_file(monkeypatch, tmp_path):
    path = str(tmp_path / "k.json")
    (tmp_path / "k.json").write_bytes(b"x")
    assert _secret_io.remove_file(make_module(monkeypatch, check_mode=True), path)["changed"] is True
    assert os.path.exists(path)
    module = make_module(monkeypatch)
    result = _secret_io.remove_file(module, path, backup=True)
    assert result["changed"] and not os.path.exists(path) and os.path.exists(result["backup_file"])
    assert _secret_io.remove_file(module, path)["changed"] is False


def test_write_files_stages_everything_before_replacing(monkeypatch, tmp_path):
    module = make_module(monkeypatch)
    first = str(tmp_path / "a.pem")
    (tmp_path / "a.pem").write_bytes(b"old")
    real = _secret_io._write_temp
    calls = []

    def failing_second(directory, content):
        calls.append(directory)
        if len(calls) == 2:
            raise ParameterError("path", "cannot create a file in %s: Permission denied" % directory)
        return real(directory, content)

    monkeypatch.setattr(_secret_io, "_write_temp", failing_second)
    with pytest.raises(ParameterError, match="cannot create a file"):
        _secret_io.write_files(module, [{"path": first, "content": b"new"}, {"path": str(tmp_path / "a.key"), "content": b"key"}])
    assert (tmp_path / "a.pem").read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["a.pem"]


def test_directory_that_refuses_files_is_a_clear_error(monkeypatch):
    module = make_module(monkeypatch)
    with pytest.raises(ParameterError, match="path: "):
        _secret_io.write_file(module, "/proc/sap_btp_credentials.json", b"x")
