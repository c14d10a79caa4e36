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
    --exclude=./.git --exclude=./.venv --exclude=./.venv-matrix --exclude=./tests/output --exclude=./build --exclude=./.stage \
    --exclude=./benchmarks/output --exclude=./demo-output --exclude=./.sandbox \
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
# The sandbox's CA bundle vanishes with the sandbox: keep a copy next to the inventory, which stays usable with
# `make sandbox` (the same cached sandbox CA; export the CF_* variables it prints).
cp "$(json 'd["sandbox"]["ca_bundle"]')" "$OUT/ca-bundle.pem"
CA_BUNDLE=$OUT/ca-bundle.pem

# SAP's own stores: a Destination service key (acme) and the partner tenant's api key with CredentialsEdit (globex)
"$PY" "$ROOT/scripts/demo_sap_stores.py" "$SVC" "$OUT/sap-keys" >> "$LOG"

INVENTORY=$OUT/inventory.yml
cat > "$INVENTORY" <<EOF
---
# One host = one tenant (subaccount): its Cloud Foundry org/space and its clients.
# CF_API, CF_USERNAME, CF_PASSWORD and VAULT_ADDR, VAULT_TOKEN come from the environment. The demo's sandbox is
# gone once the demo ends: to run these playbooks again, start \`make sandbox\` and export what it prints.
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
      # The API portal key for api_provider (issue 16): an apimanagement-apiportal instance of plan apiportal-apiaccess
      cloud_integration_apiportal:
        instance: demo-apim-admin
        key_name: demo-apim-admin-key
      cloud_integration_clients:
        - name: demo-apim
          plan: api
          roles: [AuthGroup_IntegrationDeveloper, AuthGroup_Administrator]
          api_provider:
            name: demo-cpi-tenant
            title: Cloud Integration (demo tenant)
            description: Registered by sap_btp.cloud_integration onboarding
          destinations:
            - type: file
              path: $OUT/credentials/demo-apim.json
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
            - type: btp_destination
              name: demo-orders
              destination_service_key_path: $OUT/sap-keys/destination-key.json
            - type: cpi_security_material
              name: forward_target
              target_service_key_path: $OUT/sap-keys/partner-api-key.json
          smoke_test:
            endpoints:
              # the iFlow by its id: status check + endpoint from the OData API (demo-monitoring), then the call
              - artifact_id: Products_Details
                body: {productIdentifier: HT-2000}
                body_contains: HT-2000
        - name: demo-shipping
          plan: integration-flow
          key_type: certificate
          validity_days: 90
          destinations:
            - type: hashicorp_vault
              path: cloud-integration/demo-shipping
    globex-prod:
      ansible_connection: local
      ansible_python_interpreter: "{{ ansible_playbook_python }}"
      cloud_integration_cf:
        org: globex-org
        space: prod
      cloud_integration_ca_path: $CA_BUNDLE
      cloud_integration_report_dir: $OUT/reports
      cloud_integration_clients:
        # calls acme's iFlow through its Forward_OAuth iFlow, with the OAuth2 credential 'forward_target'
        - name: demo-partner-caller
          plan: integration-flow
          destinations:
            - type: file
              path: $OUT/credentials/demo-partner-caller.json
          smoke_test:
            endpoints:
              - path: /http/forward
                method: POST
                body: hello from globex
                status_code: [200]
                mpl_status: none
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

step "3/6 Onboarding 4 clients: api + secret (+ API provider), api + secret, integration-flow + secret (also into a BTP destination and the partner tenant's security material), integration-flow + SAP certificate; plus a partner-tenant caller"
# The API portal access key the api_provider of demo-apim is written with (API Management, role APIPortal.Administrator)
ansible localhost -m sap_btp.cloud_integration.service_instance \
    -a '{"name": "demo-apim-admin", "offering": "apimanagement-apiportal", "plan": "apiportal-apiaccess", "org": "acme-org", "space": "dev", '"\"ca_path\": \"$CA_BUNDLE\""', "parameters": {"role": "APIPortal.Administrator"}}' >> "$LOG" 2>&1
ansible localhost -m sap_btp.cloud_integration.service_key \
    -a '{"name": "demo-apim-admin-key", "instance": "demo-apim-admin", "org": "acme-org", "space": "dev", '"\"ca_path\": \"$CA_BUNDLE\""'}' >> "$LOG" 2>&1
echo "    API portal access: instance demo-apim-admin (apimanagement-apiportal, apiportal-apiaccess, APIPortal.Administrator) + key"
echo "    \$ ansible-playbook -i demo-output/inventory.yml sap_btp.cloud_integration.onboard"
run_playbook onboard > "$WORK/onboard.out"
sed -n '/Show the onboarded clients/,/^$/p' "$WORK/onboard.out" | grep -E '^ +"[^"]+",?$' | sed 's/^ *"\(.*\)",\{0,1\}$/    \1/'
echo "    $(recap)"
ansible localhost -m sap_btp.cloud_integration.api_provider_info \
    -a '{"name": "demo-cpi-tenant", "apiportal_instance": "demo-apim-admin", "apiportal_key_name": "demo-apim-admin-key", "org": "acme-org", "space": "dev", '"\"ca_path\": \"$CA_BUNDLE\""'}' \
    > "$WORK/provider.out" 2>&1
"$PY" - "$WORK/provider.out" <<'PYEOF'
import json, re, sys
text = open(sys.argv[1], encoding="utf-8").read()
match = re.search(r"=> (\{.*\})", text, re.S)
provider = (json.loads(match.group(1)) if match else {}).get("provider") or {}
if not provider:
    sys.exit("    API provider demo-cpi-tenant not found")
print("    API provider %s created in API Management: %s://%s:%s%s, %s, client %s" % (
    provider["name"], "https" if provider["useSSL"] else "http", provider["host"], provider["port"], provider["pathPrefix"],
    provider["authType"], provider["clientId"]))
PYEOF

step "4/6 Where the credentials went"
find "$OUT/credentials" -mindepth 1 -maxdepth 1 -printf '    %M  %f\n' | sort -k2
echo "    demo-orders.vault.yml starts with $(head -n 1 "$OUT/credentials/demo-orders.vault.yml")   (ansible-vault view to decrypt)"
echo "    OpenBao: secret/cloud-integration/demo-shipping with fields: $(bao kv get -format=json secret/cloud-integration/demo-shipping 2>/dev/null \
    | "$PY" -c 'import json,sys; print(", ".join(sorted(json.load(sys.stdin)["data"]["data"])))')"

step "5/6 Smoke test: token, iFlow Products_Details by id (runtime status + endpoint) + call {\"productIdentifier\": \"HT-2000\"} + MPL, OData read"
echo "    \$ ansible-playbook -i demo-output/inventory.yml sap_btp.cloud_integration.smoke_test"
run_playbook smoke_test > "$WORK/smoke.out"
echo
sed 's/^/    /' "$OUT/reports/smoke_test-$TENANT.md"
echo "    JUnit report: demo-output/reports/smoke_test-$TENANT.xml"
echo "    Through SAP's own stores: acme's BTP destination demo-orders, and globex's Forward_OAuth iFlow with the"
echo "    OAuth2 credential forward_target that onboarding wrote into globex's security material:"
grep -E "demo-partner-caller" "$OUT/reports/smoke_test-globex-prod.md" | sed 's/^/    /' || true

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
