#!/usr/bin/env bash
# credentials_store integration tests. A script target, because Ansible Vault needs vault secrets on the
# ansible-playbook command line: two vault ids (primary, other) are given to the main run, and a second run
# without any vault secret checks the error. A second OpenBao dev server is started and sealed here, so that
# the sealed-vault case runs against a real sealed server without disturbing the shared one.
set -eux

WORK=$(mktemp -d)
SEALED_PID=""
cleanup() {
    if [ -n "$SEALED_PID" ]; then kill "$SEALED_PID" 2>/dev/null || true; wait "$SEALED_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

printf 'primary-vault-password' > "$WORK/primary.pw"
printf 'other-vault-password' > "$WORK/other.pw"
chmod 0600 "$WORK"/*.pw

# a sealed OpenBao
BAO=$(command -v bao)
PORT=$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
SEALED_ADDR="http://127.0.0.1:$PORT"
HOME="$WORK" "$BAO" server -dev -dev-root-token-id=sealed-root -dev-listen-address="127.0.0.1:$PORT" > "$WORK/sealed.log" 2>&1 &
SEALED_PID=$!
python - "$SEALED_ADDR" <<'PY'
import json, sys, time, urllib.request
for _ in range(200):
    try:
        urllib.request.urlopen(sys.argv[1] + "/v1/sys/health", timeout=1)
        break
    except OSError:
        time.sleep(0.1)
PY
BAO_ADDR="$SEALED_ADDR" BAO_TOKEN=sealed-root "$BAO" operator seal
python -c 'import json, sys, urllib.request; assert json.load(urllib.request.urlopen(sys.argv[1] + "/v1/sys/seal-status"))["sealed"]' "$SEALED_ADDR"

export ANSIBLE_ROLES_PATH=..
# script targets do not get the integration variables (vault_addr, vault_token, cf_*, ca_path) by themselves
CONFIG=../../integration_config.yml
test -f "$CONFIG"
ansible-playbook -i "$INVENTORY_PATH" main.yml \
    --vault-id "primary@$WORK/primary.pw" --vault-id "other@$WORK/other.pw" \
    -e "@$CONFIG" -e "work_dir=$WORK/files primary_pw=$WORK/primary.pw other_pw=$WORK/other.pw sealed_vault_addr=$SEALED_ADDR" "$@"

# no vault secrets at all: ansible_vault must fail clearly and write nothing
ansible-playbook -i "$INVENTORY_PATH" no_vault_secrets.yml -e "work_dir=$WORK/novault" "$@"
