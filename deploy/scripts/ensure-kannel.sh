#!/usr/bin/env bash
# Make sure the Kannel SMS gateway is installed for the SMS tests: Debian's `kannel`
# (bearerbox, smsbox) and `kannel-extras` (the fake SMS centre client fakesmsc).
# tests/support/kannel.py runs a private bearerbox + smsbox + fakesmsc per test module on
# free ports of 127.0.0.1, from a configuration of its own: no system Kannel is used.
#
# Idempotent:
#   1. bearerbox, smsbox and fakesmsc installed -> nothing to do
#   2. root and apt-get available               -> apt-get install kannel kannel-extras,
#                                                  then stop the system Kannel if the
#                                                  package's init script started one
#   3. otherwise                                -> explain what to install, exit 1
#
# The package's init script (/etc/init.d/kannel, with /etc/default/kannel's START_WAPBOX)
# would start a bearerbox and a wapbox on /etc/kannel/kannel.conf. apt_install denies
# service starts during the install (a temporary policy-rc.d), but a machine may have a
# policy-rc.d of its own that allows them: whatever the install started is stopped, since
# the tests need none of it. Only processes of the `kannel` user are touched (the init
# script's --chuid); the tests' own boxes run as the test user. A system Kannel that was
# already running before is left alone (step 1 does not look for one). The service stays
# enabled: a mission's gateway (deploy/kannel/kannel.conf) is this same init script.
set -euo pipefail

LOG_TAG=ensure-kannel
# shellcheck source=deploy/scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BEARERBOX=/usr/sbin/bearerbox
SMSBOX=/usr/sbin/smsbox
FAKESMSC=/usr/lib/kannel/test/fakesmsc
# Where the init script keeps its pidfiles (those of run_kannel_box, each box's parachute).
PIDFILE_DIR=/var/run/kannel
KANNEL_USER=kannel

kannel_installed() { [[ -x "$BEARERBOX" && -x "$SMSBOX" && -x "$FAKESMSC" ]]; }

# system_kannel_running: a box started by the init script is alive.
# system_kannel_pids: the live processes named by the init script's pidfiles.
system_kannel_pids() {
    local pidfile pid
    for pidfile in "$PIDFILE_DIR"/kannel_bearerbox.pid "$PIDFILE_DIR"/kannel_wapbox.pid \
        "$PIDFILE_DIR"/kannel_smsbox.pid; do
        [[ -r "$pidfile" ]] || continue
        pid="$(cat "$pidfile" 2>/dev/null || true)"
        if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
            echo "$pid"
        fi
    done
}

# system_kannel_running: a box started by the init script is alive.
system_kannel_running() {
    [[ -n "$(system_kannel_pids)" ]] && return 0
    # A box whose pidfile went missing: any process of the kannel user.
    id -u "$KANNEL_USER" >/dev/null 2>&1 && have pgrep && pgrep -u "$KANNEL_USER" >/dev/null 2>&1
}

system_kannel_stopped() { ! system_kannel_running; }

# stop_system_kannel: stop what the install started, with the init script first, then
# (should it leave a box behind) by killing the kannel user's processes.
stop_system_kannel() {
    system_kannel_running || return 0
    log "the install started the system Kannel; stopping it (the tests run their own boxes)"
    if [[ -x /etc/init.d/kannel ]]; then
        /etc/init.d/kannel stop || log "/etc/init.d/kannel stop failed (rc=$?)"
    fi
    if ! wait_until 15 "the system Kannel to stop" system_kannel_stopped; then
        log "killing what is left of the system Kannel"
        local pid
        for pid in $(system_kannel_pids); do
            kill -KILL "$pid" 2>/dev/null || true
        done
        if id -u "$KANNEL_USER" >/dev/null 2>&1 && have pkill; then
            pkill -KILL -u "$KANNEL_USER" || true
        fi
        wait_until 5 "the kannel user's processes to die" system_kannel_stopped ||
            die "a system bearerbox is still running; stop it: /etc/init.d/kannel stop"
    fi
    log "system Kannel stopped"
}

main() {
    if kannel_installed; then
        log "kannel already installed ($BEARERBOX, $SMSBOX, $FAKESMSC)"
        return 0
    fi
    if can_apt; then
        # apt_install: DEBIAN_FRONTEND=noninteractive, one apt-get update if the lists
        # lack the packages or the first attempt fails, no Recommends, no service start.
        apt_install kannel kannel-extras || die "apt-get install kannel kannel-extras failed"
        stop_system_kannel
        kannel_installed || die "bearerbox, smsbox or fakesmsc still missing after apt-get install kannel kannel-extras"
        log "installed kannel $(dpkg-query -W -f='${Version}' kannel 2>/dev/null || echo '(version unknown)')"
    else
        die "Kannel not found; the SMS gateway tests need $BEARERBOX, $SMSBOX and $FAKESMSC.
  Install them as root on Debian 12: apt-get install kannel kannel-extras
  (or run \`make infra\` as root, which does that; then make sure no system bearerbox
  runs: /etc/init.d/kannel stop)"
    fi
}

main "$@"
