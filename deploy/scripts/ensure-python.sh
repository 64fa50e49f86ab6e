#!/usr/bin/env bash
# Make sure uv is available and the project environment (.venv) matches uv.lock.
#
#   1. uv on PATH, or importable as `python3 -m uv`   -> use it
#   2. otherwise `python3 -m pip install --quiet uv`  (installs python3/pip with apt-get
#      first when they are missing and we are root; adds --break-system-packages on a
#      PEP 668 "externally managed" interpreter such as Debian's /usr/bin/python3)
#   3. `uv sync --frozen` (dev dependencies included): a no-op when .venv is in sync.
set -euo pipefail

LOG_TAG=ensure-python
# shellcheck source=deploy/scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PYTHON="${PYTHON:-python3}"
UV=()

find_uv() {
    if have uv; then
        UV=(uv)
    elif "$PYTHON" -m uv --version >/dev/null 2>&1; then
        UV=("$PYTHON" -m uv)
    else
        return 1
    fi
}

install_uv() {
    if ! have "$PYTHON" || ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
        can_apt || die "${PYTHON} with pip is required; install Python 3.11+ and pip (Debian: apt-get install python3 python3-pip) or install uv"
        # Debian 12's python3 is 3.11, which pyproject.toml accepts.
        apt_install python3 python3-pip python3-venv || die "apt-get install python3 python3-pip failed"
    fi
    log "installing uv with pip"
    export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1
    local pip_args=(--quiet)
    # PEP 668: Debian's python3 refuses `pip install` outside a venv unless told otherwise.
    if "$PYTHON" -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")))' 2>/dev/null; then
        pip_args+=(--break-system-packages)
    fi
    "$PYTHON" -m pip install "${pip_args[@]}" uv ||
        die "could not install uv; install it by hand: ${PYTHON} -m pip install uv"
    # pyenv keeps console scripts behind shims that need a rehash.
    if have pyenv; then pyenv rehash >/dev/null 2>&1 || true; fi
    hash -r
}

main() {
    if ! find_uv; then
        install_uv
        find_uv || die "uv was installed but can be run neither as 'uv' nor as '${PYTHON} -m uv'"
    fi
    log "using $("${UV[@]}" --version)"
    cd "$REPO_ROOT"
    "${UV[@]}" sync --frozen
}

main "$@"
