"""Write the local intersphinx inventory that `make docs` uses instead of downloading docs.ansible.com's.

Usage: python scripts/docs_inventory.py LABELS_FILE OUTPUT_INV

The inventory (Sphinx objects.inv, version 2) holds the labels listed in LABELS_FILE and, for every ansible.builtin
plugin of the installed ansible-core, the label antsibull-docs links to (ansible_collections.ansible.builtin.NAME_TYPE).
"""
import json
import subprocess
import sys
import zlib

# the plugin types a collection's documentation links to (M(), P() of modules, lookups, filters and tests)
PLUGIN_TYPES = ("module", "lookup", "filter", "test")


def builtin_entries():
    for plugin_type in PLUGIN_TYPES:
        out = subprocess.run(["ansible-doc", "--list", "--json", "-t", plugin_type, "ansible.builtin"], capture_output=True,
                             text=True, check=True).stdout
        for fqcn in sorted(json.loads(out)):
            name = fqcn.rsplit(".", 1)[-1]
            label = "ansible_collections.ansible.builtin.%s_%s" % (name, plugin_type)
            anchor = label.replace(".", "-").replace("_", "-")
            yield label, "collections/ansible/builtin/%s_%s.html#%s" % (name, plugin_type, anchor), fqcn


def listed_entries(path):
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip() and not line.startswith("#"):
                label, uri, title = (part.strip() for part in line.split("|"))
                yield label, uri, title


def main(labels_file, output):
    lines = ["%s std:label -1 %s %s" % entry for entry in list(listed_entries(labels_file)) + list(builtin_entries())]
    header = "# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n# The remainder of this file is compressed using zlib.\n"
    with open(output, "wb") as handle:
        handle.write(header.encode("utf-8"))
        handle.write(zlib.compress(("\n".join(lines) + "\n").encode("utf-8")))
    return len(lines)


if __name__ == "__main__":
    sys.stdout.write("%d labels in %s\n" % (main(sys.argv[1], sys.argv[2]), sys.argv[2]))
