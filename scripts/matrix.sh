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

seed_get_pip() {
    # the offline pip bootstrap of scripts/test.sh, for the ansible-test of this venv
    local venv=$1 versions v cache
    versions=$(grep -ho "pip='[0-9.]*'" "$venv"/lib/python*/site-packages/ansible_test/_internal/python_requirements.py | cut -d"'" -f2 | sort -u)
    mkdir -p "$HOME/.ansible/test/cache"
    for v in $versions; do
        cache="$HOME/.ansible/test/cache/get_pip_${v//./_}.py"
        [ -f "$cache" ] && grep -q 'sap_btp offline bootstrap' "$cache" && continue
        cp "$ROOT/scripts/get_pip_offline.py" "$cache"
    done
}

stage() {
    local dest=$1
    rm -rf "$dest"
    mkdir -p "$dest"
    tar -C "$ROOT" -cf - \
        --exclude=./.git --exclude=./.venv --exclude=./.venv-matrix --exclude=./tests/output --exclude=./build --exclude=./.stage \
        --exclude=./benchmarks/output --exclude=./demo-output \
        --exclude='__pycache__' --exclude='.pytest_cache' --exclude='*.pyc' --exclude='*.tar.gz' . | tar -C "$dest" -xf -
}

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
    seed_get_pip "$venv"
    pyver=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    dest=$STAGE_ROOT/core-${core%.*}/ansible_collections/sap_btp/cloud_integration
    stage "$dest"
    for suite in $SUITES; do
        start=$(date +%s)
        echo "=== ansible-core $core: $suite ==="
        case "$suite" in
            sanity)
                log=$OUT/matrix-$core-sanity.log
                (cd "$dest" && PATH="$venv/bin:$PATH" ansible-test sanity --requirements --python "$pyver" --color no) 2>&1 | tee "$log"
                rc=${PIPESTATUS[0]}
                if grep -E 'Skipping sanity test|Required program "[^"]+" not found|could not be found' "$log"; then
                    echo "FAIL: the sanity tests above were skipped" >&2
                    rc=1
                fi
                ;;
            units)
                (cd "$dest" && PATH="$venv/bin:$PATH" ansible-test units --requirements --python "$pyver" --color no)
                rc=$?
                ;;
            e2e)
                (cd "$ROOT" && PATH="$venv/bin:$PATH" "$venv/bin/python" -m pytest tests/e2e/test_roles.py -q -p no:cacheprovider \
                    -n "${PYTEST_WORKERS:-2}" --junitxml="$OUT/matrix-$core-e2e-roles.xml")
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
