# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin of sap_btp.cloud_integration.credentials_store (documented with the module).

- ``credentials`` given as a dictionary is handed to the module as one JSON string, so that Ansible's no_log
  masking hides the key as a whole instead of every short value inside it (the plan name, the key type...),
  which would garble the results.
- ``destination: ansible_vault``: the module renders the key (phase ``read``) and returns it with the current
  file; this plugin decrypts the file with the run's vault secrets, compares, encrypts with the chosen vault id
  only when the content or the vault id changed, and lets the module write it atomically (phase ``write``).
- ``destinations`` (many destinations in one task): one module run reads every item (Ansible Vault items in phase
  ``read``), this plugin encrypts the vault items in-process, and one more module run writes them (phase ``write``),
  so a batch costs one or two module starts however many clients it has.
- The displayed result is censored (``_ansible_no_log``) should it ever contain a secret value.
"""

from __future__ import annotations

import base64
import json

from ansible.module_utils.common.text.converters import to_text

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _batch, _formats
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ParameterError
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._redact import Redactor, fingerprint
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._service_key import parse_service_key, secret_values
from ansible_collections.sap_btp.cloud_integration.plugins.plugin_utils import _ansible_vault
from ansible_collections.sap_btp.cloud_integration.plugins.plugin_utils._secret_action import SecretResultAction

MODULE = "sap_btp.cloud_integration.credentials_store"
SOURCE_ARGS = ("instance", "key", "credentials", "content", "src")
KEY_ARGS = ("destination_service_key", "target_service_key")  # service keys of SAP's stores, handed over as JSON text
SECRET_ARGS = ("content", "pkcs12_password", "token", "secret_id", "cf_password", "cf_client_secret", "cf_token")


def _collect_strings(value, found):
    if isinstance(value, dict):
        for item in value.values():
            _collect_strings(item, found)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _collect_strings(item, found)
    elif isinstance(value, str):
        found.append(value)
    return found


class ActionModule(SecretResultAction):
    """Controller side of credentials_store."""

    MODULE = MODULE

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._secrets = Redactor()

    def result_has_secrets(self, args, result):
        """True when a secret value of the task shows up anywhere in the result (it never should)."""
        if not len(self._secrets):
            return False
        text = json.dumps(result, default=str)
        return self._secrets.scrub(text) != text

    def _remember_secrets(self, args):
        for name in SECRET_ARGS:
            if isinstance(args.get(name), str):
                self._secrets.add(args[name])
        credentials = args.get("credentials")
        if credentials is not None:
            try:
                self._secrets.add(*secret_values(parse_service_key(credentials, option="credentials")))
            except (ParameterError, TypeError, ValueError):
                self._secrets.add(*[item for item in _collect_strings(credentials, []) if len(item) >= 16])

    def _prepare(self, args):
        """Remember the secrets of one task's (or item's) arguments; hand credentials on as JSON text."""
        self._remember_secrets(args)
        credentials = args.get("credentials")
        if credentials is not None and not isinstance(credentials, str):
            args["credentials"] = json.dumps(credentials, default=to_text)
        for name in KEY_ARGS:
            if isinstance(args.get(name), dict):
                fields = args[name].get("oauth") if isinstance(args[name].get("oauth"), dict) else args[name]
                self._secrets.add(*[value for field, value in fields.items() if field in ("clientsecret", "key") and isinstance(value, str)])
                args[name] = json.dumps(args[name], default=to_text)
        for internal in ("_vault_phase", "_vault_content"):
            args.pop(internal, None)
        return args

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        self._supports_async = False
        result = super(SecretResultAction, self).run(tmp, task_vars)  # pylint: disable=bad-super-call
        del tmp
        args = self._prepare(dict(self._task.args))
        if isinstance(args.get("destinations"), list):
            outcome = self._run_batch(args, task_vars)
        elif args.get("destination") == "ansible_vault" and args.get("state", "present") == "present":
            outcome = self._run_vault_file(args, task_vars)
        else:
            outcome = self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars)
        result.update(outcome)
        if self.result_has_secrets(args, result):
            result["_ansible_no_log"] = True
        return result

    def _fail(self, message):
        return {"failed": True, "changed": False, "msg": self._secrets.scrub(message)}

    # -- one destination ------------------------------------------------------------------------------
    def _run_vault_file(self, args, task_vars):
        try:
            _ansible_vault.encrypt_identity(self._loader, args.get("vault_id"))
        except _ansible_vault.VaultFileError as exc:
            return self._fail("vault_id: %s" % exc)
        read = self._execute_module(module_name=MODULE, module_args=dict(args, _vault_phase="read"), task_vars=task_vars)
        if read.get("failed"):
            return read
        plan = self._vault_plan(args, read)
        if plan.get("failed"):
            return plan
        write_args = {name: value for name, value in args.items() if name not in SOURCE_ARGS}
        write_args.update(_vault_phase="write", _vault_content=plan["ciphertext"], format=plan["format"])
        written = self._execute_module(module_name=MODULE, module_args=write_args, task_vars=task_vars)
        if written.get("failed"):
            return written
        return self._vault_outcome(read, written, plan)

    # -- many destinations (the destinations option) --------------------------------------------------------
    def _run_batch(self, args, task_vars):
        """One module run for all destinations; with Ansible Vault items, the module reads them in that run, this plugin
        encrypts them in-process, and one more module run writes them all."""
        items = [self._prepare(dict(item)) if isinstance(item, dict) else item for item in args["destinations"]]
        vault_items = []
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                continue
            merged = dict({name: value for name, value in args.items() if name != "destinations"},
                          **{name: value for name, value in item.items() if value is not None})
            if merged.get("destination", "file") == "ansible_vault" and merged.get("state", "present") == "present":
                try:
                    _ansible_vault.encrypt_identity(self._loader, merged.get("vault_id"))
                except _ansible_vault.VaultFileError as exc:
                    # every item is validated before anything is read or written
                    where = "destinations[%d]%s" % (index, " (%s)" % merged["name"] if merged.get("name") else "")
                    return self._fail("%s.vault_id: %s" % (where, exc))
                item["_vault_phase"] = "read"
                vault_items.append((index, merged))
        first = self._execute_module(module_name=MODULE, module_args=dict(args, destinations=items), task_vars=task_vars)
        results = first.get("destinations")
        if not isinstance(results, list) or len(results) != len(items):
            return first  # failed before any item ran (bad input): nothing was changed
        diffs = list(first.get("diff") or [])
        plans, write_items = {}, []
        for index, merged in vault_items:
            read = results[index]
            if read.get("failed"):
                continue
            plan = self._vault_plan(merged, read)
            if plan.get("failed"):
                results[index] = {"name": read.get("name"), "destination": "ansible_vault", "path": read.get("path"), "failed": True,
                                  "changed": False, "msg": "%s: %s" % (read.get("name"), plan["msg"])}
                continue
            plans[index] = plan
            write_item = {name: value for name, value in items[index].items() if name not in SOURCE_ARGS}
            write_item.update(_vault_phase="write", _vault_content=plan["ciphertext"], format=plan["format"])
            write_items.append((index, write_item))
        if write_items:
            write_args = {name: value for name, value in args.items() if name not in SOURCE_ARGS}
            write_args["destinations"] = [item for dummy, item in write_items]
            second = self._execute_module(module_name=MODULE, module_args=write_args, task_vars=task_vars)
            written_all = second.get("destinations")
            if not isinstance(written_all, list) or len(written_all) != len(write_items):
                return second
            for (index, dummy), written in zip(write_items, written_all):
                if written.get("failed"):
                    results[index] = written
                    continue
                outcome = self._vault_outcome(results[index], written, plans[index])
                if "diff" in outcome:
                    diffs.append(outcome.pop("diff"))
                results[index] = outcome
        failures = [item["msg"] for item in results if item.get("failed")]
        output = {"changed": any(item.get("changed") for item in results), "destinations": results}
        if diffs and self._task.diff:
            output["diff"] = diffs
        if failures:
            output.update(failed=True, msg=self._secrets.scrub(_batch.failure_message("destinations", failures, len(results))))
        return output

    # -- Ansible Vault: compare and encrypt on the controller ---------------------------------------------
    def _vault_plan(self, args, read):
        """Decrypt the current file, compare it with the rendered key and encrypt only when something changed.
        Returns {ciphertext (None when unchanged), vault_id, format, ...} or a failure."""
        try:
            vault_id, dummy = _ansible_vault.encrypt_identity(self._loader, args.get("vault_id"))
        except _ansible_vault.VaultFileError as exc:
            return self._fail("vault_id: %s" % exc)
        transfer = read.pop("vault_transfer", None) or {}
        plaintext = base64.b64decode(transfer.get("plaintext") or "")
        existing = base64.b64decode(transfer["existing"]) if transfer.get("existing") else None
        fmt = read.get("format") or "json"
        env_prefix = args.get("env_prefix") or _formats.DEFAULT_ENV_PREFIX
        after_fields = _formats.key_fields(_formats.parse_stored(plaintext, fmt, env_prefix, follow_references=False))
        self._secrets.add(*(value for name, value in after_fields.items() if name in ("clientsecret", "key") and isinstance(value, str)))
        old_label = None
        if existing is None:
            content_changed, before_fields = True, {}
        elif _ansible_vault.encrypted(existing):
            try:
                old_plaintext, dummy = _ansible_vault.decrypt(self._loader, existing, filename=read.get("path"))
            except _ansible_vault.VaultFileError as exc:
                return self._fail("path: %s; refusing to overwrite it. Run with the vault ID it was encrypted with, or remove it first (state: absent)."
                                  % exc)
            old_label = _ansible_vault.header_vault_id(existing)
            content_changed = old_plaintext != plaintext or old_label != vault_id
            try:
                before_fields = _formats.key_fields(_formats.parse_stored(old_plaintext, fmt, env_prefix, follow_references=False))
            except ParameterError:
                before_fields = None
        else:
            content_changed, before_fields = True, None
        ciphertext = None
        if content_changed:
            ciphertext, vault_id = _ansible_vault.encrypt(self._loader, plaintext, vault_id)
        return {"ciphertext": ciphertext, "vault_id": vault_id, "format": fmt, "content_changed": content_changed,
                "before_fields": before_fields, "after_fields": after_fields, "old_label": old_label, "existing": existing,
                "plaintext": plaintext}

    def _vault_outcome(self, read, written, plan):
        """The result of a vault destination: the read phase's key facts, the write phase's file facts, a fingerprint diff."""
        vault_id = plan["vault_id"]
        outcome = dict(read)
        outcome.update({name: written[name] for name in ("changed", "backup_files", "path", "paths") if name in written})
        outcome["vault_id"] = vault_id
        diff = written.get("diff") or {"before": {}, "after": {}, "before_header": read.get("path"), "after_header": read.get("path")}
        if plan["content_changed"]:
            before_fields, old_label = plan["before_fields"], plan["old_label"]
            if before_fields is None:
                names = ["content"]
                field_diff = {"before": {"content": fingerprint(plan["existing"])}, "after": {"content": fingerprint(plan["plaintext"])}}
            else:
                names, field_diff = _formats.field_changes(before_fields, plan["after_fields"])
            if old_label is not None and old_label != vault_id:
                names = names + ["vault_id"]
                field_diff["before"]["vault_id"] = old_label
                field_diff["after"]["vault_id"] = vault_id
            outcome["changed_fields"] = names
            diff["before"] = dict(diff.get("before") or {}, **field_diff["before"])
            diff["after"] = dict(diff.get("after") or {}, **field_diff["after"])
        if self._task.diff and (diff["before"] or diff["after"]):
            outcome["diff"] = diff
        else:
            outcome.pop("diff", None)
        return outcome
