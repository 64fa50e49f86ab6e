#!/usr/bin/env bash
# The kannel container's process (compose profile "kannel"): renders the shipped template
# with this container's environment (render-conf.sh), then runs bearerbox and smsbox side
# by side in the foreground.
#
# One container, two boxes: smsbox reaches bearerbox on 127.0.0.1, so the template's
# box-allow-ip stays 127.0.0.1 and no other container can attach a box.
#
# SIGTERM or SIGINT (docker compose stop, Ctrl-C) stops smsbox, then bearerbox, each
# waited for: bearerbox shuts its SMS centre link down and answers what it holds (about
# two seconds; compose's stop_grace_period leaves it more). Either box ending on its own
# ends the other and the container with a failure, so that the restart policy brings back
# both: a lone smsbox still answers sendsms with 202 and nothing is ever sent.
#
# Environment: render-conf.sh's KANNEL_* and
#   KANNEL_TEMPLATE   the template       (/usr/share/coord-kannel/kannel.conf)
#   KANNEL_CONF       the rendered file  (/run/kannel/kannel.conf)
#   KANNEL_VERBOSITY  the boxes' stderr, i.e. the container's log (2: warnings and errors)
set -euo pipefail

TEMPLATE=${KANNEL_TEMPLATE:-/usr/share/coord-kannel/kannel.conf}
CONF=${KANNEL_CONF:-/run/kannel/kannel.conf}
# At info level (1) smsbox logs the number and the text of every SMS: source protection
# keeps them out of the container's log, as the template's log-level 2 does for its files.
VERBOSITY=${KANNEL_VERBOSITY:-2}
BOX_PORT=${KANNEL_SMSBOX_PORT:-13001}

log() { printf 'kannel-entrypoint: %s\n' "$*" >&2; }

render-conf.sh "$TEMPLATE" "$CONF"

bearerbox_pid=
smsbox_pid=

# stop_box PID: SIGTERM, then wait for it to be gone.
stop_box() {
    [[ -n "$1" ]] || return 0
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# shutdown STATUS: smsbox first, so that it does not try to reconnect to a leaving bearerbox.
shutdown() {
    trap - TERM INT
    stop_box "$smsbox_pid"
    stop_box "$bearerbox_pid"
    log "stopped"
    exit "$1"
}
trap 'log "stopping smsbox, then bearerbox"; shutdown 0' TERM INT

bearerbox -v "$VERBOSITY" "$CONF" &
bearerbox_pid=$!

# smsbox panics at once when bearerbox does not take its connection yet. bearerbox takes
# this bare probe for a box that left at once, and forgets it.
until (exec 3<>"/dev/tcp/127.0.0.1/$BOX_PORT") 2>/dev/null; do
    if ! kill -0 "$bearerbox_pid" 2>/dev/null; then
        status=0
        wait "$bearerbox_pid" || status=$?
        log "bearerbox exited (status $status) before it took boxes"
        exit $((status == 0 ? 1 : status))
    fi
    sleep 0.2
done

smsbox -v "$VERBOSITY" "$CONF" &
smsbox_pid=$!
log "bearerbox ($bearerbox_pid) and smsbox ($smsbox_pid) started"

status=0
wait -n "$bearerbox_pid" "$smsbox_pid" || status=$?
log "a box exited on its own (status $status): stopping the other"
shutdown $((status == 0 ? 1 : status))
