#!/usr/bin/env bash
# `make demo`: onboard three Cloud Integration clients against the bundled BTP sandbox, smoke-test them and show
# that a second onboarding run changes nothing. No SAP account needed; everything runs on 127.0.0.1.
#
# Uses the .venv the Makefile created, starts the sandbox (realistic profile) and an OpenBao dev server, stages the
# collection as ansible_collections/sap_btp/cloud_integration in a temporary directory, and stops everything on exit.
# Credentials and reports are kept in demo-output/ (ignored by git) so that you can look at them afterwards.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=$ROOT/.venv
PY=$VENV/bin/python
OUT=$ROOT/demo-output
TENANT=acme-dev

if [ ! -x "$PY" ] || [ ! -x "$VENV/bin/ansible-playbook" ]; then
    echo "The virtual environment $VENV is missing; run 'make demo' (it creates it)." >&2
    exit 1
fi
export PATH="$VENV/bin:$PATH"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sap-btp-demo.XXXXXX")
SERVICES=$WORK/services
LOG=$OUT/demo.log

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -f "$SERVICES/pids.json" ]; then
        echo
        echo "Stopping the sandbox and OpenBao ..."
        "$PY" "$ROOT/scripts/services.py" stop --dir "$SERVICES" || true
    fi
    rm -rf "$WORK"
    if [ $rc -ne 0 ] && [ -s "$LOG" ]; then
        echo "---- last lines of $LOG ----" >&2
        tail -n 25 "$LOG" >&2
        echo "The demo failed (exit $rc). The full output is in $LOG" >&2
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bold() { if [ -t 1 ]; then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi; }
step() { echo; bold "==> $*"; }

START=$(date +%s)
rm -rf "$OUT"
mkdir -p "$OUT/credentials" "$OUT/reports"
: > "$LOG"

step "1/6 Starting the BTP sandbox (realistic profile: 30 ms per request, 2 s provisioning) and OpenBao"
"$PY" "$ROOT/scripts/services.py" start --dir "$SERVICES" --profile realistic >> "$LOG" 2>&1
SVC=$SERVICES/services.json
json() { "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {'d': d}))" "$SVC" "$1"; }
echo "    Cloud Foundry API  $(json 'd["sandbox"]["cf"]["api_url"]')   (org acme-org, space dev)"
echo "    OpenBao            $(json 'd["vault_addr"]')"

step "2/6 Staging the collection for ansible-playbook"
COLLECTIONS=$WORK/collections
DEST=$COLLECTIONS/ansible_collections/sap_btp/cloud_integration
mkdir -p "$DEST"
tar -C "$ROOT" -cf - \
    --exclude=./.git --exclude=./.venv --exclude=./tests/output --exclude=./build --exclude=./.stage \
    --exclude=./benchmarks/output --exclude=./demo-output \
    --exclude='__pycache__' --exclude='.pytest_cache' --exclude='*.pyc' --exclude='*.tar.gz' . | tar -C "$DEST" -xf -
echo "    $DEST"

# Demo-only secrets: the Ansible Vault password and the sandbox's Cloud Foundry user come from files and the
# environment, as they would from AWX credentials; the inventory holds no secret.
printf 'demo-vault-password-not-for-production\n' > "$OUT/vault-password.txt"
chmod 600 "$OUT/vault-password.txt"
export ANSIBLE_COLLECTIONS_PATH=$COLLECTIONS
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false
export ANSIBLE_VAULT_PASSWORD_FILE=$OUT/vault-password.txt
export ANSIBLE_DISPLAY_SKIPPED_HOSTS=false
export ANSIBLE_RETRY_FILES_ENABLED=false
export ANSIBLE_LOCAL_TEMP=$WORK/ansible-tmp
export SAP_BTP_CACHE_DIR=$WORK/token-cache
CF_API=$(json 'd["sandbox"]["cf"]["api_url"]')
CF_USERNAME=$(json 'd["sandbox"]["cf"]["username"]')
CF_PASSWORD=$(json 'd["sandbox"]["cf"]["password"]')
VAULT_ADDR=$(json 'd["vault_addr"]')
VAULT_TOKEN=$(json 'd["vault_token"]')
export CF_API CF_USERNAME CF_PASSWORD VAULT_ADDR VAULT_TOKEN
CA_BUNDLE=$(json 'd["sandbox"]["ca_bundle"]')

INVENTORY=$OUT/inventory.yml
cat > "$INVENTORY" <<EOF
---
# One host = one tenant (subaccount): its Cloud Foundry org/space and its clients.
# CF_API, CF_USERNAME, CF_PASSWORD and VAULT_ADDR, VAULT_TOKEN come from the environment.
tenants:
  hosts:
    $TENANT:
      ansible_connection: local
      ansible_python_interpreter: "{{ ansible_playbook_python }}"
      cloud_integration_cf:
        org: acme-org
        space: dev
      cloud_integration_ca_path: $CA_BUNDLE
      cloud_integration_report_dir: $OUT/reports
      cloud_integration_clients:
        - name: demo-monitoring
          plan: api
          roles: [MonitoringDataRead, WorkspacePackagesRead]
          destinations:
            - type: file
              path: $OUT/credentials/demo-monitoring.json
        - name: demo-orders
          plan: integration-flow
          roles: [ESBMessaging.send]
          destinations:
            - type: ansible_vault
              path: $OUT/credentials/demo-orders.vault.yml
              format: yaml
        - name: demo-shipping
          plan: integration-flow
          key_type: certificate
          validity_days: 90
          destinations:
            - type: hashicorp_vault
              path: cloud-integration/demo-shipping
EOF

run_playbook() {
    local name=$1; shift
    echo "\$ ansible-playbook -i demo-output/inventory.yml sap_btp.cloud_integration.$name $*" >> "$LOG"
    ansible-playbook -i "$INVENTORY" "sap_btp.cloud_integration.$name" "$@" 2>&1 | tee -a "$LOG"
}

recap() {
    # The PLAY RECAP line of the tenant from the last run in the log.
    grep -E "^$TENANT +: ok=" "$LOG" | tail -1
}

step "3/6 Onboarding 3 clients: api + secret, integration-flow + secret, integration-flow + SAP certificate"
echo "    \$ ansible-playbook -i demo-output/inventory.yml sap_btp.cloud_integration.onboard"
run_playbook onboard > "$WORK/onboard.out"
sed -n '/Show the onboarded clients/,/^$/p' "$WORK/onboard.out" | grep -E '^ +"[^"]+",?$' | sed 's/^ *"\(.*\)",\{0,1\}$/    \1/'
echo "    $(recap)"

step "4/6 Where the credentials went"
ls -l "$OUT/credentials" | sed -n '2,$p' | awk '{ print "    " $1 "  " $NF }'
echo "    demo-orders.vault.yml starts with $(head -n 1 "$OUT/credentials/demo-orders.vault.yml")   (ansible-vault view to decrypt)"
echo "    OpenBao: secret/cloud-integration/demo-shipping with fields: $(bao kv get -format=json secret/cloud-integration/demo-shipping 2>/dev/null \
    | "$PY" -c 'import json,sys; print(", ".join(sorted(json.load(sys.stdin)["data"]["data"])))')"

step "5/6 Smoke test: token, iFlow call POST /http/products/details {\"productIdentifier\": \"HT-2000\"} + MPL, OData read"
echo "    \$ ansible-playbook -i demo-output/inventory.yml sap_btp.cloud_integration.smoke_test"
run_playbook smoke_test > "$WORK/smoke.out"
echo
sed 's/^/    /' "$OUT/reports/smoke_test-$TENANT.md"
echo "    JUnit report: demo-output/reports/smoke_test-$TENANT.xml"

step "6/6 Onboarding again: nothing to change"
echo "    \$ ansible-playbook -i demo-output/inventory.yml sap_btp.cloud_integration.onboard"
run_playbook onboard > "$WORK/onboard2.out"
LINE=$(recap)
echo "    $LINE"
CHANGED=$(printf '%s\n' "$LINE" | sed -n 's/.*changed=\([0-9]*\).*/\1/p')
if [ "$CHANGED" != "0" ]; then
    echo "    expected changed=0 on the second run" >&2
    exit 1
fi
echo "    Idempotent: the second run reports changed=0."

END=$(date +%s)
step "Done in $((END - START)) s"
echo "    Credentials and reports: demo-output/   Full Ansible output: demo-output/demo.log"
echo "    Next: key rotation and offboarding - see the Roles and Playbooks tables in README.md."
