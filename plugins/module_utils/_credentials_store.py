# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. The logic of the credentials_store module.

Resolves the service key (from Cloud Foundry, a dict, JSON text or a file), renders it and delivers it to a
file, an Ansible Vault file (with the controller-side action plugin) or a KV v2 secret. Everything that can
fail on input is checked before the first write, so a bad key, format or path touches nothing.

Ansible Vault takes two module calls driven by the action plugin (which holds the run's vault secrets):
``_vault_phase: read`` renders the key and returns it with the current file content (base64, never shown);
``_vault_phase: write`` writes the ciphertext the plugin produced (or only fixes attributes when unchanged).

The batch form (``destinations``, ``run_batch()``) runs the same per-destination logic for many destinations in
one module run: the item options are the module's own (``batch_item_options()``), every item is validated before
the first request or write, the items run on threads that share one Cloud Foundry client, and a failed item is
reported with its name while the others go on. The action plugin drives the Ansible Vault phases for all vault
items of a batch at once (one read run, then one write run).
"""

from __future__ import annotations

import base64
import json
import os

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _batch, _credentials, _formats, _secret_io
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ParameterError
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._redact import fingerprint
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._service_key import parse_raw_service_key
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._vault import KvStore, plan_write, secret_path

DESTINATIONS = ("file", "ansible_vault", "hashicorp_vault", "btp_destination", "cpi_security_material")
SAP_DESTINATIONS = ("btp_destination", "cpi_security_material")
VAULT_FILE_FORMATS = ("json", "yaml", "env", "postman")


def _b64(data):
    return base64.b64encode(data).decode("ascii") if data is not None else None


FINGERPRINT_FIELDS = ("clientid", "clientsecret", "certificate", "key", "url", "tokenurl")


def key_fingerprint(creds):
    """A non-reversible fingerprint of the credentials (same for every input form and destination)."""
    return fingerprint(json.dumps({name: creds.get(name) for name in FINGERPRINT_FIELDS}, sort_keys=True))


def resolve_key(module, cf_client=None):
    """Return (raw, creds) from whichever source option is set; registers the secrets with the module.

    The readers are those of ``_credentials`` (the one home of credential resolution). ``cf_client``: a Cloud Foundry
    client to share (a batch); without it, one is built from the module's options."""
    params = module.params
    if params.get("instance"):
        raw, creds = _credentials.cf_key(module, params["instance"], params.get("key"), params.get("key_guid"), cf_client=cf_client)
    elif params.get("credentials") is not None:
        raw, creds = parse_raw_service_key(params["credentials"], option="credentials")
    elif params.get("content") is not None:
        raw, creds = parse_raw_service_key(params["content"], option="content", require_wrapper=True)
    elif params.get("src"):
        raw, creds = read_key_file(params["src"])
    else:
        raise ParameterError("instance", "state 'present' needs a service key: set instance and key, credentials, content or src")
    _credentials.register(module, raw, creds)
    return raw, creds


read_key_file = _credentials.read_key_file


def _format(params):
    fmt = params.get("format") or "json"
    destination = params["destination"]
    if destination == "hashicorp_vault" and params.get("format") not in (None, "json"):
        raise ParameterError("format", "a KV secret stores the fields of the key; format applies to the file destinations only")
    if destination == "ansible_vault" and fmt not in VAULT_FILE_FORMATS:
        raise ParameterError("format", "an Ansible Vault file holds one text document; use one of %s (or destination file for %s)"
                             % (", ".join(VAULT_FILE_FORMATS), fmt))
    return fmt


def _file_path(params):
    path = params.get("path")
    if not path:
        raise ParameterError("path", "destination '%s' needs path" % params["destination"])
    return os.path.abspath(os.path.expanduser(path))


def _render_options(params):
    return {
        "private_key_path": os.path.abspath(os.path.expanduser(params["private_key_path"])) if params.get("private_key_path") else None,
        "certificate_path": params.get("certificate_path"),
        "pkcs12_password": params.get("pkcs12_password"),
        "pkcs12_friendly_name": params.get("pkcs12_friendly_name"),
        "env_prefix": params.get("env_prefix") if params.get("env_prefix") is not None else _formats.DEFAULT_ENV_PREFIX,
        "postman_name": params.get("postman_name"),
    }


def _output_paths(params, fmt, path):
    if fmt == "pem":
        return [path, os.path.abspath(os.path.expanduser(params.get("private_key_path") or _formats.default_private_key_path(path)))]
    return [path]


def _header(paths):
    return ", ".join(paths)


class CredentialsStore:
    """One credentials_store task."""

    def __init__(self, module, cf_client=None):
        self.module = module
        self.params = module.params
        self.cf_client = cf_client
        for name in ("pkcs12_password", "token", "secret_id"):
            if self.params.get(name):
                module.add_secrets(self.params[name])

    def validate(self):
        """The checks that need no request and no file: destination, format, and the combinations of options that the
        argument spec checks for a single task (a batch item inherits task options, so they are checked again here)."""
        params = self.params
        if params["destination"] not in DESTINATIONS:
            raise ParameterError("destination", "expected one of %s" % ", ".join(DESTINATIONS))
        sources = [name for name in SOURCE_OPTIONS if params.get(name) not in (None, "")]
        if len(sources) > 1:
            raise ParameterError(sources[1], "parameters are mutually exclusive: %s" % "|".join(SOURCE_OPTIONS))
        if params.get("key") and not params.get("instance") and not sources:
            raise ParameterError("instance", "key needs instance (the service instance the key belongs to)")
        if params.get("auth_method") == "approle" and params["destination"] == "hashicorp_vault":
            missing = [name for name in ("role_id", "secret_id") if not params.get(name)]
            if missing:
                raise ParameterError(missing[0], "auth_method is approle but %s is missing" % ", ".join(missing))
        return _format(params)

    def run(self):
        destination = self.params["destination"]
        fmt = self.validate()
        if destination in SAP_DESTINATIONS:
            return self.run_sap_store(destination)
        if destination == "hashicorp_vault":
            return self.run_kv()
        if destination == "ansible_vault":
            return self.run_vault_file(fmt)
        return self.run_file(fmt)

    # -- plain files -------------------------------------------------------------------------------------
    def run_file(self, fmt):
        path = _file_path(self.params)
        if self.params["state"] == "absent":
            return self.remove_files(_output_paths(self.params, fmt, path), fmt)
        raw, creds = resolve_key(self.module, self.cf_client)
        options = _render_options(self.params)
        outputs = _formats.render(fmt, raw, creds, path, options)
        for item in outputs:
            _secret_io.check_writable(item["path"], module=self.module)
        existing = [_secret_io.read_file(item["path"]) for item in outputs]
        content_changed = []
        for item, current in zip(outputs, existing):
            if current is None:
                content_changed.append(True)
            elif item["same"] is not None:
                content_changed.append(not item["same"](current))
            else:
                content_changed.append(current != item["content"])
        result = self._base_result(fmt, raw, creds, [item["path"] for item in outputs])
        diff = {"before": {}, "after": {}}
        if any(content_changed):
            names, field_diff = _formats.content_field_changes(fmt, raw, creds, outputs, existing, options)
            result["changed_fields"] = names
            diff["before"].update(field_diff["before"])
            diff["after"].update(field_diff["after"])
        attrs = [{} for dummy in outputs]
        written = _secret_io.write_files(self.module, [
            {"path": item["path"], "content": item["content"], "mode": self.params["mode"], "owner": self.params.get("owner"),
             "group": self.params.get("group"), "backup": self.params["backup"], "same": (lambda current, _changed=changed_content: not _changed),
             "diff": attrs[index]}
            for index, (item, changed_content) in enumerate(zip(outputs, content_changed))
        ])
        changed = any(item["changed"] for item in written)
        backups = [item["backup_file"] for item in written if item["backup_file"]]
        for item, item_attrs in zip(outputs, attrs):
            self._merge_attr_diff(diff, item_attrs, item["path"], len(outputs) > 1)
        result.update(changed=changed, backup_files=backups)
        return self._finish(result, diff, _header(result["paths"]))

    def remove_files(self, paths, fmt):
        changed = False
        backups = []
        removed_fields = {}
        for path in paths:
            if os.path.lexists(path):
                removed_fields[os.path.basename(path)] = fingerprint(_secret_io.read_file(path) or b"")
            removed = _secret_io.remove_file(self.module, path, backup=self.params["backup"])
            changed = changed or removed["changed"]
            if removed["backup_file"]:
                backups.append(removed["backup_file"])
        result = {"changed": changed, "destination": self.params["destination"], "format": fmt, "path": paths[0], "paths": paths,
                  "backup_files": backups, "changed_fields": []}
        diff = {"before": {"state": "present", "content": removed_fields}, "after": {"state": "absent"}} if changed else None
        return self._finish(result, diff, _header(paths))

    # -- Ansible Vault (two phases driven by the action plugin) ------------------------------------------
    def run_vault_file(self, fmt):
        path = _file_path(self.params)
        if self.params["state"] == "absent":
            return self.remove_files([path], fmt)
        phase = self.params.get("_vault_phase")
        if phase == "read":
            raw, creds = resolve_key(self.module, self.cf_client)
            outputs = _formats.render(fmt, raw, creds, path, _render_options(self.params))
            _secret_io.check_writable(path, module=self.module)
            result = self._base_result(fmt, raw, creds, [path])
            result.update(changed=False, vault_transfer={"plaintext": _b64(outputs[0]["content"]), "existing": _b64(_secret_io.read_file(path))})
            return result
        if phase == "write":
            ciphertext = self.params.get("_vault_content")
            content = ciphertext.encode("utf-8") if ciphertext is not None else b""
            attrs = {}
            written = _secret_io.write_file(self.module, path, content, mode=self.params["mode"], owner=self.params.get("owner"),
                                            group=self.params.get("group"), backup=self.params["backup"],
                                            same=(lambda current: ciphertext is None), diff=attrs)
            diff = {"before": {}, "after": {}}
            self._merge_attr_diff(diff, attrs, path, False)
            result = {"changed": written["changed"], "destination": "ansible_vault", "format": fmt, "path": path, "paths": [path],
                      "backup_files": [written["backup_file"]] if written["backup_file"] else []}
            return self._finish(result, diff, path)
        raise ParameterError("destination", "destination 'ansible_vault' runs through the collection's action plugin; "
                                            "call the module as sap_btp.cloud_integration.credentials_store")

    # -- KV v2 ---------------------------------------------------------------------------------------------
    def run_kv(self):
        params = self.params
        store = KvStore.from_params(params, redactor=self.module.redactor)
        path = secret_path(params.get("path"))
        if params["state"] == "absent":
            return self.remove_kv(store, path)
        raw, creds = resolve_key(self.module, self.cf_client)
        fields = _formats.key_fields(raw)
        current = store.read(path)
        desired = plan_write(current.data, fields, replace=params["replace"])
        names, diff = _formats.field_changes(current.data or {}, desired)
        changed = current.data is None or bool(names)
        result = self._base_result(None, raw, creds, [])
        result.update(destination="hashicorp_vault", kv_path=store.mount + "/" + path, version=current.version, changed_fields=names)
        for name in ("path", "paths", "format", "backup_files"):
            del result[name]
        cas = params.get("cas")
        if changed:
            if cas is not None and cas != current.version:
                raise ParameterError("cas", "check-and-set mismatch: the secret's current version is %d but cas is %d; nothing was written"
                                     % (current.version, cas))
            if not self.module.check_mode:
                result["version"] = store.write(path, desired, cas=cas)
        result["changed"] = changed
        if current.data is None:
            diff["before"] = {"state": "absent"}
        return self._finish(result, diff if changed else None, result["kv_path"])

    def remove_kv(self, store, path):
        destroy = self.params["destroy"]
        current = store.read(path)
        if destroy:
            changed = current.exists
        else:
            changed = current.data is not None
        result = {"destination": "hashicorp_vault", "kv_path": store.mount + "/" + path, "version": current.version,
                  "changed_fields": [], "changed": changed}
        if changed and not self.module.check_mode:
            if destroy:
                store.destroy(path)
            else:
                store.delete_latest(path)
        diff = None
        if changed:
            before = {"state": "present" if current.data is not None else "deleted", "versions": current.version}
            if current.data:
                before.update((name, fingerprint(value)) for name, value in current.data.items())
            diff = {"before": before, "after": {"state": "destroyed" if destroy else "deleted"}}
        return self._finish(result, diff, result["kv_path"])

    # -- SAP's own stores: BTP Destination service, Cloud Integration security material -------------------
    def run_sap_store(self, destination):
        if destination == "btp_destination":
            from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _destination_service as store

            creds = store.destination_key(self.params)
            self.module.add_secrets(creds.get("clientsecret"), creds.get("key"))
            service = store.DestinationService(self.module.http(), creds, level=self.params["destination_level"],
                                               redactor=self.module.redactor, warn=self.module.warn)
            writer = store.DestinationWriter(self.module, service)
            store.check_name(self.params.get("name"))
        else:
            from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _security_material as store

            writer = store.SecurityMaterialWriter(self.module)
            store.check_name(self.params.get("name"))
        if self.params["state"] == "absent":
            result, diff = writer.absent()
        else:
            creds = resolve_key(self.module, self.cf_client)[1]
            result, diff = writer.present(creds, key_fingerprint(creds))
            result.update(fingerprint=key_fingerprint(creds), key_type=creds.get("key_type"), plan=creds.get("plan"))
        return self._finish(result, diff, "%s %s" % (destination, result["name"]))

    # -- helpers -------------------------------------------------------------------------------------------
    def _base_result(self, fmt, raw, creds, paths):
        return {"destination": self.params["destination"], "format": fmt, "path": paths[0] if paths else None, "paths": paths,
                "key_type": creds.get("key_type"), "plan": creds.get("plan"), "fingerprint": key_fingerprint(creds),
                "changed_fields": [], "backup_files": []}

    @staticmethod
    def _merge_attr_diff(diff, attrs, path, prefixed):
        for side in ("before", "after"):
            for name, value in (attrs.get(side) or {}).items():
                if name == "path":
                    continue
                diff[side][("%s:%s" % (os.path.basename(path), name)) if prefixed else name] = value

    def _finish(self, result, diff, header):
        if self.module._diff and diff is not None and (diff.get("before") or diff.get("after")):
            result["diff"] = {"before": diff.get("before") or {}, "after": diff.get("after") or {},
                              "before_header": header, "after_header": header}
        return result


def run_module(module):
    """Entry point for the module: returns the result dict."""
    result = CredentialsStore(module).run()
    if module.params.get("label"):
        result["label"] = module.params["label"]
    return result


# ---------------------------------------------------------------------------------------------------------------
# the batch form: many destinations in one module run

SOURCE_OPTIONS = ("instance", "credentials", "content", "src")
# task options an item cannot set: the connection (one Cloud Foundry client for the batch), the common options and
# the batch's own options
NOT_ITEM_OPTIONS = ("destinations", "concurrency", "validate_certs", "ca_path", "timeout")


def batch_item_options(argument_spec, cf_options):
    """Every option of the module an item may set: all per-destination options, derived from the module's argspec,
    so a new destination type's options are item options as well."""
    return tuple(name for name in argument_spec if name not in NOT_ITEM_OPTIONS and name not in cf_options)


def source_exclusive():
    """Pairs of exclusive option groups: an item that names its own key source inherits no other source."""
    groups = [("instance", "key", "key_guid"), ("credentials",), ("content",), ("src",)]
    return [(first, second) for index, first in enumerate(groups) for second in groups[index + 1:]]


def item_label(params):
    """How results and errors name an item: its ``label`` (the client, in the roles), else destination:path (the
    name of a destination in an SAP store)."""
    return params.get("label") or "%s:%s" % (params.get("destination"), params.get("path") or params.get("name"))


def run_batch(module, item_options, client_factory):
    """``destinations``: every item validated, then all items on threads sharing one Cloud Foundry client (built only
    when an item reads its key from Cloud Foundry). Returns ``{changed, destinations: [...], diff: [...]}`` in item
    order; a failed item is ``{name, failed, changed: false, msg}`` and the task fails naming every failed item."""
    concurrency = _batch.check_concurrency(module.params.get("concurrency"))
    items = _batch.expand(dict(module.params), "destinations", item_options, exclusive=source_exclusive(),
                          identity=("destination", "path", "name", "url", "mount"), require_first=False)
    stores = []
    for index, item_module in enumerate(_batch.item_modules(module, items)):
        item = item_module.params
        item.setdefault("label", None)
        store = CredentialsStore(item_module)
        try:
            store.validate()
        except ParameterError as exc:
            raise _batch.item_parameter_error(exc, _batch.item_label("destinations", index, item.get("label"))) from None
        stores.append(store)
    if any(store.params.get("instance") and store.params["state"] == "present" for store in stores):
        client = client_factory(module)
        client.access_token()  # one login before the threads start
        for store in stores:
            store.cf_client = client

    def one(store):
        result = store.run()
        result["label"] = item_label(store.params)
        result.setdefault("destination", store.params["destination"])
        return result

    results, diffs, failures = [], [], []
    for store, (result, error) in zip(stores, _batch.run_items(stores, one, concurrency)):
        label = item_label(store.params)
        if error is not None:
            message = module.redactor.scrub("%s: %s" % (label, error))
            failures.append(message)
            results.append({"label": label, "destination": store.params["destination"], "path": store.params.get("path"),
                            "name": store.params.get("name"),
                            "failed": True, "changed": False, "msg": message})
            continue
        if "diff" in result and not store.params.get("_vault_phase"):
            # (the action plugin completes the diff of an Ansible Vault item from both phases)
            diffs.append(result.pop("diff"))
        results.append(result)
    output = {"changed": any(result.get("changed") for result in results), "destinations": results}
    if module._diff and diffs:
        output["diff"] = diffs
    if failures:
        module.fail_json(msg=_batch.failure_message("destinations", failures, len(stores)), **output)
    return output
