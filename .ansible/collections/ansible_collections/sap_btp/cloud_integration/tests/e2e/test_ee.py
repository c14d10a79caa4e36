# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Execution environment (issue 8): introspection of the collection and the sample EE definition.

Offline by design: the sample EE (examples/ee) installs the collection from a tarball built here, with
``ansible-galaxy collection install --offline``. ``ansible-builder create`` writes the build context without
building an image; the test then runs the context's own galaxy and introspection steps (taken from the generated
Containerfile, with the image paths mapped to temporary directories) and checks that the requirements the image
would ``pip install`` are the collection's Python dependencies, and that pip can resolve them without an index.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
EXAMPLE_DIR = REPO_ROOT / "examples" / "ee"
# the collection's runtime dependencies, as the EE must install them (distribution names, lower case)
RUNTIME_DEPS = {"requests", "cryptography", "hvac", "pyjwt"}


def run(command, cwd=None, env=None, timeout=300):
    proc = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, "%s failed (rc %s)\nstdout:\n%s\nstderr:\n%s" % (
        " ".join(map(str, command)), proc.returncode, proc.stdout[-4000:], proc.stderr[-4000:])
    return proc


def requirement_names(lines):
    names = set()
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(re.split(r"[<>=!~;\[ ]", line, maxsplit=1)[0].lower().replace("_", "-"))
    return names


@pytest.fixture(scope="module")
def galaxy_meta():
    return yaml.safe_load((REPO_ROOT / "galaxy.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def tarball(staged_collection, tmp_path_factory, galaxy_meta):
    """The collection built with ansible-galaxy from the staged work tree."""
    out = tmp_path_factory.mktemp("ee-collections")
    source = Path(staged_collection) / "ansible_collections" / "sap_btp" / "cloud_integration"
    run([BIN / "ansible-galaxy", "collection", "build", "--force", "--output-path", out, source])
    path = out / ("sap_btp-cloud_integration-%s.tar.gz" % galaxy_meta["version"])
    assert path.is_file()
    return path


@pytest.fixture(scope="module")
def ee_context(tarball, tmp_path_factory):
    """A copy of examples/ee with the tarball in collections/, and the context ansible-builder creates from it."""
    work = tmp_path_factory.mktemp("ee")
    for name in ("execution-environment.yml", "requirements.yml"):
        shutil.copy(EXAMPLE_DIR / name, work / name)
    (work / "collections").mkdir()
    shutil.copy(tarball, work / "collections" / tarball.name)
    context = work / "context"
    run([BIN / "ansible-builder", "create", "-f", work / "execution-environment.yml", "-c", context,
         "--output-filename", "Containerfile", "-v", "1"])
    return context


def test_meta_execution_environment_is_introspectable(tarball, tmp_path):
    """ansible-builder introspect reads meta/execution-environment.yml of the installed collection."""
    meta = yaml.safe_load((REPO_ROOT / "meta" / "execution-environment.yml").read_text(encoding="utf-8"))
    assert meta["version"] == 1 and meta["dependencies"]["python"] == "meta/ee-requirements.txt"
    ee_requirements = (REPO_ROOT / "meta" / "ee-requirements.txt").read_text(encoding="utf-8").splitlines()
    assert requirement_names(ee_requirements) == RUNTIME_DEPS
    # the metadata must survive build_ignore: it is read from the built artifact, not the work tree
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
    assert {"meta/execution-environment.yml", "meta/ee-requirements.txt"} <= names
    assert "requirements.txt" not in names and "bindep.txt" not in names  # no root-level files that builders would read

    collections = tmp_path / "collections"
    run([BIN / "ansible-galaxy", "collection", "install", "--offline", "-p", collections, tarball])
    proc = run([BIN / "ansible-builder", "introspect", "--sanitize", collections])
    data = yaml.safe_load(proc.stdout.split("\n", 1)[1] if proc.stdout.startswith("#") else proc.stdout)
    assert requirement_names(data["python"]) == RUNTIME_DEPS
    for line in data["python"]:
        assert line.endswith("# from collection sap_btp.cloud_integration"), line
    # the version floors are exactly those of meta/ee-requirements.txt
    floors = sorted(line.split("#")[0].strip() for line in data["python"])
    assert floors == sorted(line.strip() for line in ee_requirements if line.strip() and not line.startswith("#"))
    assert not data.get("system")


def test_sample_definition_is_schema_v3(galaxy_meta):
    definition = yaml.safe_load((EXAMPLE_DIR / "execution-environment.yml").read_text(encoding="utf-8"))
    assert definition["version"] == 3
    assert definition["dependencies"]["galaxy"] == "requirements.yml"
    requirements = yaml.safe_load((EXAMPLE_DIR / "requirements.yml").read_text(encoding="utf-8"))
    # the tarball name follows galaxy.yml's version, so a version bump cannot leave the sample behind
    assert requirements["collections"] == [
        {"name": "collections/sap_btp-cloud_integration-%s.tar.gz" % galaxy_meta["version"], "type": "file"}]
    # ansible-builder's default file name is execution-environment.yml in the working directory: never at the root
    assert not (REPO_ROOT / "execution-environment.yml").exists() and not (REPO_ROOT / "execution-environment.yaml").exists()


def test_create_writes_a_complete_context(ee_context, tarball):
    containerfile = (ee_context / "Containerfile").read_text(encoding="utf-8")
    build = ee_context / "_build"
    assert (build / "collections" / tarball.name).read_bytes() == tarball.read_bytes()
    assert yaml.safe_load((build / "requirements.yml").read_text()) == yaml.safe_load((EXAMPLE_DIR / "requirements.yml").read_text())
    for script in ("introspect.py", "assemble", "install-from-bindep", "check_ansible", "check_galaxy", "pip_install"):
        assert (build / "scripts" / script).is_file(), script
    # ansible-core and ansible-runner are installed into the image, collections offline, then introspected and assembled
    assert 'ARG ANSIBLE_INSTALL_REFS="ansible-core>=2.17,<2.20 ansible-runner>=2.4,<3"' in containerfile
    assert 'ARG ANSIBLE_GALAXY_CLI_COLLECTION_OPTS="--offline"' in containerfile
    assert "COPY _build /build" in containerfile
    assert re.search(r"^RUN .*ansible-galaxy collection install \$ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml", containerfile, re.M)
    assert re.search(r"^RUN \$PYCMD /output/scripts/introspect.py introspect .*--write-pip=/tmp/src/requirements.txt", containerfile, re.M)
    assert "RUN /output/scripts/assemble" in containerfile
    assert "RUN /output/scripts/install-from-bindep" in containerfile
    assert "RUN ansible-doc -t module -l sap_btp.cloud_integration" in containerfile
    assert "LABEL ansible-execution-environment=true" in containerfile


def _arg_defaults(containerfile):
    return dict(re.findall(r'^ARG (\w+)="(.*)"$', containerfile, re.M))


def _run_line(containerfile, pattern):
    lines = [line[4:] for line in containerfile.splitlines() if line.startswith("RUN ") and re.search(pattern, line)]
    assert len(lines) == 1, (pattern, lines)
    return lines[0]


def test_context_installs_the_collection_python_dependencies(ee_context, tmp_path):
    """Replay the context's galaxy and introspection steps, then resolve what the final image would pip install."""
    containerfile = (ee_context / "Containerfile").read_text(encoding="utf-8")
    args = _arg_defaults(containerfile)
    build = ee_context / "_build"
    image_collections = tmp_path / "usr-share-ansible" / "collections"

    # galaxy stage (WORKDIR /build): the exact install command, offline, into a temporary collections path
    galaxy = _run_line(containerfile, r"ansible-galaxy collection install")
    env_part, command = galaxy.split(" ", 1)
    assert env_part == "ANSIBLE_GALAXY_DISABLE_GPG_VERIFY=1"
    command = command.replace("$ANSIBLE_GALAXY_CLI_COLLECTION_OPTS", args["ANSIBLE_GALAXY_CLI_COLLECTION_OPTS"])
    command = command.replace("/usr/share/ansible/collections", str(image_collections))
    argv = shlex.split(command)
    argv[0] = str(BIN / argv[0])
    env = {"PATH": "%s:/usr/bin:/bin" % BIN, "HOME": str(tmp_path), "ANSIBLE_GALAXY_DISABLE_GPG_VERIFY": "1",
           "ANSIBLE_GALAXY_SERVER": "https://galaxy.invalid/"}  # any attempt to reach a Galaxy server would fail
    run(argv, cwd=build, env=env)
    installed = image_collections / "ansible_collections" / "sap_btp" / "cloud_integration"
    assert (installed / "MANIFEST.json").is_file() and (installed / "meta" / "execution-environment.yml").is_file()

    # builder stage: the exact introspection command (image paths mapped to the temporary tree)
    introspect = _run_line(containerfile, r"introspect.py introspect")
    out_dir = tmp_path / "tmp-src"
    command = introspect.replace("$PYCMD", sys.executable).replace("/output/scripts", str(build / "scripts"))
    command = command.replace("/tmp/src", str(out_dir))
    run(shlex.split(command) + [str(image_collections)], cwd=build)
    pip_requirements = (out_dir / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert requirement_names(pip_requirements) == RUNTIME_DEPS
    assert not (out_dir / "bindep.txt").exists() or not (out_dir / "bindep.txt").read_text().strip()

    # the final stage pip installs exactly that file: it must resolve, here without any package index,
    # against the versions the test suite runs with
    proc = run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", "--disable-pip-version-check",
                "-r", out_dir / "requirements.txt"])
    assert "ERROR" not in proc.stderr
