#!/usr/bin/env bash
# `make docs`: builds the collection's HTML documentation site into build/docs, offline, with warnings as errors.
#
# antsibull-docs (the tool docs.ansible.com is built with) sets up the Sphinx project (sphinx-init --use-current) and
# renders a page for every module, role, lookup and filter the staged collection has; then sphinx-build turns it into
# HTML. Intersphinx does not download docs.ansible.com's inventory: scripts/docs_inventory.py writes a local one from
# docs/site/ansible_labels.txt and the installed ansible-core's ansible.builtin plugins, and the Python and Jinja2
# inventories are switched off (the collection's docs do not link to them). Links still point to docs.ansible.com.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=$ROOT/.venv
export PATH="$VENV/bin:$PATH"
OUT=$ROOT/build/docs
COLLECTION=sap_btp.cloud_integration

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sap-btp-docs.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
DEST=$WORK/collections/ansible_collections/sap_btp/cloud_integration
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"
stage_tree "$ROOT" "$DEST" --exclude=./tests
export ANSIBLE_COLLECTIONS_PATH=$WORK/collections ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false

SRC=$WORK/src
mkdir -m 700 "$SRC"
antsibull-docs sphinx-init --use-current --dest-dir "$SRC" "$COLLECTION" > "$WORK/sphinx-init.log"
python "$ROOT/scripts/docs_inventory.py" "$ROOT/docs/site/ansible_labels.txt" "$SRC/ansible_devel.inv"
cat >> "$SRC/conf.py" <<CONF

# scripts/docs.sh: offline build. The Ansible inventory is a local file (see scripts/docs_inventory.py); the Python
# and Jinja2 inventories are not used by the collection's pages and are left out rather than downloaded.
intersphinx_mapping = {
    'ansible_devel': ('https://docs.ansible.com/projects/ansible/devel/', '$SRC/ansible_devel.inv'),
}
CONF

cd "$SRC"
mkdir -p rst && chmod 700 rst  # antsibull-docs wants it writable only by its owner
antsibull-docs --config-file antsibull-docs.cfg collection --use-current --fail-on-error --cleanup everything \
    --dest-dir rst "$COLLECTION"
rm -rf "$OUT"
sphinx-build -b html -q -W --keep-going -c . rst "$OUT"

# Every plugin and role the collection has must have a page (the list comes from ansible-doc, not from this script).
missing=0
pages=0
for type in module lookup filter role; do
    for fqcn in $(ansible-doc --list --json -t "$type" "$COLLECTION" | python -c 'import json,sys; print("\n".join(sorted(json.load(sys.stdin))))'); do
        page=$OUT/collections/sap_btp/cloud_integration/${fqcn##*.}_${type}.html
        pages=$((pages + 1))
        [ -f "$page" ] || { echo "missing page for $type $fqcn: $page" >&2; missing=1; }
    done
done
[ "$missing" -eq 0 ] || exit 1
echo "docs site: $OUT/index.html ($pages plugin and role pages)"
