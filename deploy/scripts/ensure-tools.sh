#!/usr/bin/env bash
# Make sure the command-line tools the README's walkthrough and the tests use are
# installed: curl (the HTTP calls), jq (keeps an answer's id for the next command) and
# docker-compose (Debian's 1.29: tests/integration/cli/test_compose.py checks
# docker-compose.yml with it; `config` needs no docker engine).
#
# Idempotent: a tool already on PATH is left alone. Missing ones are installed with
# apt-get when we are root; otherwise this says what to install and goes on (the
# system runs without them: only the walkthrough needs them).
set -euo pipefail

LOG_TAG=ensure-tools
# shellcheck source=deploy/scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

main() {
    local missing=() tool
    for tool in curl jq docker-compose; do
        have "$tool" || missing+=("$tool")
    done
    ((${#missing[@]} == 0)) && return 0
    if can_apt; then
        apt_install "${missing[@]}" || log "could not install ${missing[*]}; the walkthrough needs them"
    else
        log "please install ${missing[*]} (Debian: apt-get install ${missing[*]}); the walkthrough and the tests need them"
    fi
}

main "$@"
