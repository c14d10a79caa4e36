#!/usr/bin/env bash
# `make test-matrix` (and a step of `make test`): ansible-test sanity, ansible-test units and the end-to-end role suite
# (tests/e2e/test_roles.py) under the older ansible-core releases the collection supports. The newest (2.19, pinned in
# requirements-dev.txt) runs every suite in .venv as the other steps of `make test`; the heavy suites (integration,
# sandbox, the whole e2e suite, lint) run only there.
#
# Each release gets its own venv (core-X.Y in ~/.cache/sap_btp.cloud_integration/venv-matrix/), built from
# requirements-dev.txt with that ansible-core, without the tools that need the newest core or only build docs
# (ansible-lint, galaxy-importer, antsibull-docs, Sphinx, ansible-builder). A venv is reused while requirements-dev.txt
# and the release are unchanged, so only the first run pays for the installs; ansible-test caches its own sanity venvs
# under ~/.ansible/test.
# MATRIX_CORES="2.18.19" limits the run; MATRIX_SUITES="units e2e" picks suites (default: sanity units e2e).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
CORES=${MATRIX_CORES:-2.17.14 2.18.19}
SUITES=${MATRIX_SUITES:-sanity units e2e}
# Outside the work tree, so that a fresh clone (as CI makes) reuses them; MATRIX_VENV_DIR moves them.
BASE=${MATRIX_VENV_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sap_btp.cloud_integration/venv-matrix}
OUT=$ROOT/tests/output
STAGE_ROOT=${STAGE_BASE:-${TMPDIR:-/tmp}/sap_btp_ci_$(id -u)_$(printf %s "$ROOT" | md5sum | cut -c1-8)}/matrix
mkdir -p "$BASE" "$OUT"
export ANSIBLE_FORCE_COLOR=0 PY_COLORS=0

declare -a SUMMARY=()
FAILED=0

ensure_venv() {
    # ensure_venv CORE: creates or reuses $BASE/core-X.Y for ansible-core CORE; prints its path
    local core=$1 venv stamp want
    venv=$BASE/core-${core%.*}
    stamp=$venv/.installed
    want="ansible-core==$core $(md5sum < "$ROOT/requirements-dev.txt" | cut -c1-32)"
    if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        echo "$venv"
        return 0
    fi
    echo "creating $venv (ansible-core $core)" >&2
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv" >&2 || return 1
    grep -vE '^(ansible-core|ansible-lint|galaxy-importer|antsibull-docs|Sphinx|sphinx-ansible-theme|ansible-pygments|ansible-builder)==' \
        "$ROOT/requirements-dev.txt" > "$venv/requirements.txt"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$venv/requirements.txt" "ansible-core==$core" >&2 \
        || return 1
    echo "$ROOT/tests" > "$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/btp_sandbox.pth"
    echo "$want" > "$stamp"
    echo "$venv"
}

# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

# ansible-test keeps its sanity venvs and bootstrap cache under ~/.ansible/test. `make test` runs this script beside the
# newest core's sanity, and two ansible-test releases can create a venv with the same requirements hash at the same
# time, so the matrix gives ansible-test a home of its own (pip's download cache stays shared).
ANSIBLE_TEST_HOME=$BASE/ansible-test-home
mkdir -p "$ANSIBLE_TEST_HOME"
export PIP_CACHE_DIR=${PIP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pip}

record() {
    # record NAME START RC
    local elapsed=$(( $(date +%s) - $2 ))
    if [ "$3" -eq 0 ]; then
        SUMMARY+=("PASS  $1 ($elapsed s)")
    else
        SUMMARY+=("FAIL  $1 ($elapsed s, exit $3)")
        FAILED=1
    fi
}

for core in $CORES; do
    start=$(date +%s)
    echo "=== ansible-core $core: venv ==="
    if ! venv=$(ensure_venv "$core"); then
        record "ansible-core $core: venv" "$start" 1
        continue
    fi
    record "ansible-core $core: venv" "$start" 0
    actual=$("$venv/bin/python" -c 'import ansible.release; print(ansible.release.__version__)')
    if [ "$actual" != "$core" ]; then
        echo "the venv has ansible-core $actual, not $core" >&2
        record "ansible-core $core: version check" "$start" 1
        continue
    fi
    HOME=$ANSIBLE_TEST_HOME seed_get_pip "$ROOT" "$venv"
    pyver=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    dest=$STAGE_ROOT/core-${core%.*}/ansible_collections/sap_btp/cloud_integration
    stage_tree "$ROOT" "$dest"
    for suite in $SUITES; do
        start=$(date +%s)
        echo "=== ansible-core $core: $suite ==="
        case "$suite" in
            sanity)
                log=$OUT/matrix-$core-sanity.log
                (cd "$dest" && HOME=$ANSIBLE_TEST_HOME PATH="$venv/bin:$PATH" ansible-test sanity --requirements --python "$pyver" --color no) 2>&1 | tee "$log"
                rc=${PIPESTATUS[0]}
                sanity_skips "$log" || rc=1
                ;;
            units)
                (cd "$dest" && HOME=$ANSIBLE_TEST_HOME PATH="$venv/bin:$PATH" ansible-test units --requirements --python "$pyver" --color no)
                rc=$?
                ;;
            e2e)
                (cd "$ROOT" && PATH="$venv/bin:$PATH" "$venv/bin/python" -m pytest tests/e2e/test_roles.py -q -p no:cacheprovider \
                    -n "${PYTEST_WORKERS:-2}" --dist loadgroup --junitxml="$OUT/matrix-$core-e2e-roles.xml")
                rc=$?
                ;;
            *) echo "unknown suite $suite" >&2; rc=2 ;;
        esac
        record "ansible-core $core: $suite" "$start" "$rc"
    done
done

echo
echo "=== ansible-core matrix summary ==="
printf '%s\n' "${SUMMARY[@]}"
exit $FAILED
