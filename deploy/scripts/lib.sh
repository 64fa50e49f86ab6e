# shellcheck shell=bash
# Helpers shared by the deploy/scripts/ensure-*.sh scripts. Source it, do not run it.
#
# The caller sets LOG_TAG before sourcing (used as the prefix of every message).

: "${LOG_TAG:=ensure}"

# Repository root (deploy/scripts/lib.sh -> ../..).
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export REPO_ROOT

log() { printf '[%s] %s\n' "$LOG_TAG" "$*" >&2; }
die() {
    printf '[%s] ERROR: %s\n' "$LOG_TAG" "$*" >&2
    exit 1
}

is_root() { [[ "$(id -u)" -eq 0 ]]; }
have() { command -v "$1" >/dev/null 2>&1; }

# port_open HOST PORT: true when a TCP connection to HOST:PORT succeeds (2 s max).
port_open() {
    # shellcheck disable=SC2016  # $1/$2 expand in the child bash, on purpose
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" >/dev/null 2>&1
}

# http_ok URL [USER PASSWORD]: true when GET URL answers 2xx (5 s max).
http_ok() {
    local url="$1" user="${2:-}" password="${3:-}"
    if have python3; then
        python3 - "$url" "$user" "$password" <<'PY' >/dev/null 2>&1
import base64, sys, urllib.request
url, user, password = sys.argv[1:4]
req = urllib.request.Request(url)
if user:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    req.add_header("Authorization", f"Basic {token}")
with urllib.request.urlopen(req, timeout=5) as resp:
    sys.exit(0 if 200 <= resp.status < 300 else 1)
PY
    elif have curl; then
        if [[ -n "$user" ]]; then
            curl -fsS -m 5 -u "$user:$password" -o /dev/null "$url" >/dev/null 2>&1
        else
            curl -fsS -m 5 -o /dev/null "$url" >/dev/null 2>&1
        fi
    else
        # Neither python3 nor curl: fall back to "something listens on that port".
        local hostport="${url#*://}"
        hostport="${hostport%%/*}"
        port_open "${hostport%%:*}" "${hostport##*:}"
    fi
}

# wait_until SECONDS DESCRIPTION COMMAND...: poll COMMAND every second until it
# succeeds; return 1 after SECONDS.
wait_until() {
    local seconds="$1" what="$2"
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@"; do
        if ((SECONDS >= deadline)); then
            log "gave up waiting ${seconds}s for ${what}"
            return 1
        fi
        sleep 1
    done
}

# apt_install PACKAGE...: install Debian packages non-interactively, running
# `apt-get update` only when the package lists lack a package (or the first
# install attempt fails, e.g. because the lists are stale).
#
# Service start-up during the install is suppressed with a temporary
# /usr/sbin/policy-rc.d (only when none exists): without systemd, invoke-rc.d
# may fail or be denied anyway, so callers start daemons explicitly afterwards.
# Recommended packages are skipped (they would pull in e.g. an MTA or compilers).
apt_install() {
    local pkg need_update=0
    for pkg in "$@"; do
        if ! apt-cache show "$pkg" >/dev/null 2>&1; then
            need_update=1
        fi
    done
    if ((need_update)); then
        log "apt-get update"
        apt-get update -qq
    fi

    local added_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\n# temporary, written by deploy/scripts/lib.sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 0755 /usr/sbin/policy-rc.d
        added_policy=1
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi

    local rc=0
    log "apt-get install -y $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" || rc=$?
    if ((rc != 0)) && ((need_update == 0)); then
        log "install failed (rc=$rc); refreshing package lists and retrying"
        apt-get update -qq && rc=0 || rc=$?
        if ((rc == 0)); then
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" || rc=$?
        fi
    fi

    if ((added_policy)); then
        rm -f /usr/sbin/policy-rc.d
        trap - EXIT
    fi
    return "$rc"
}

# can_apt: root and apt-get present.
can_apt() { is_root && have apt-get; }

# docker_compose ARGS...: `docker compose` (plugin) or legacy `docker-compose`.
docker_compose() {
    if docker compose version >/dev/null 2>&1; then
        docker compose -f "$REPO_ROOT/docker-compose.yml" "$@"
    elif have docker-compose; then
        docker-compose -f "$REPO_ROOT/docker-compose.yml" "$@"
    else
        log "docker engine found but neither 'docker compose' nor 'docker-compose' is installed"
        return 1
    fi
}

# docker_usable: a docker client that reaches a running engine.
docker_usable() { have docker && timeout 10 docker info >/dev/null 2>&1; }
