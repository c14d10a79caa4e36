#!/usr/bin/env bash
# oauth_token: every token path, failures, the controller cache across tasks and forks, output censoring,
# and an external certificate on a private sandbox that trusts a test CA.
set -eux

export ANSIBLE_ROLES_PATH=..
# ansible-test passes the integration config to role targets only; script targets read it themselves
CONFIG=../../integration_config.yml
if [ -f "$CONFIG" ]; then
    set -- -e "@$CONFIG" "$@"
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export SAP_BTP_CACHE_DIR="$WORK/cache"

ansible-playbook tokens.yml -e "work_dir=$WORK" "$@"

# N calls in M tasks on 4 hosts in 4 forks cost one token request per client
ansible-playbook forks.yml -i forks.inventory -f 4 -e "work_dir=$WORK" "$@"
ansible-playbook forks_check.yml -e "work_dir=$WORK" "$@"

# the access token never reaches the output, even with -vvv
ansible-playbook censor.yml -e "work_dir=$WORK" "$@" -vvv > "$WORK/censor.log" 2>&1 || { cat "$WORK/censor.log"; exit 1; }
grep -q "the output has been hidden" "$WORK/censor.log"
test -s "$WORK/token.txt"
if grep -F -f "$WORK/token.txt" "$WORK/censor.log"; then
    echo "the access token leaked into the output" >&2
    exit 1
fi

ansible-playbook external.yml -e "work_dir=$WORK" "$@"
