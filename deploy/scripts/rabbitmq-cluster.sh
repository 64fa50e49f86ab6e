#!/usr/bin/env bash
# Three RabbitMQ nodes on this machine, joined in one cluster: what the fault suite
# (make test-faults) kills and restarts, and a way to try COORD_AMQP_URLS locally.
#
#   deploy/scripts/rabbitmq-cluster.sh start      # rc1..rc3, AMQP on 5701..5703
#   deploy/scripts/rabbitmq-cluster.sh urls       # COORD_AMQP_URLS for the three
#   deploy/scripts/rabbitmq-cluster.sh kill N     # SIGKILL node N (1..3): a node lost
#   deploy/scripts/rabbitmq-cluster.sh restart N  # start node N again: it rejoins
#   deploy/scripts/rabbitmq-cluster.sh stop-app N # node N stops serving (the VM stays up)
#   deploy/scripts/rabbitmq-cluster.sh start-app N
#   deploy/scripts/rabbitmq-cluster.sh stop       # stop the three, keep their data
#   deploy/scripts/rabbitmq-cluster.sh clean      # stop and delete their data
#
# Each node is Debian's rabbitmq-server with its own node name (rcN@<host>), AMQP port,
# distribution port, management port and data and log directories under
# $COORD_CLUSTER_DIR (default /tmp/coord-rabbit-cluster, owned by the rabbitmq user, as
# the server script runs as it). They share the rabbitmq user's Erlang cookie, which is
# what lets them cluster. The machine's own broker (5672) is left alone. Needs root.
set -euo pipefail

LOG_TAG=rabbitmq-cluster
# shellcheck source=deploy/scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BASE="${COORD_CLUSTER_DIR:-/tmp/coord-rabbit-cluster}"
HOST_SHORT="$(hostname -s)"
WAIT_SECONDS="${RABBITMQ_WAIT_SECONDS:-120}"
COUNT=3

name() { echo "rc$1@${HOST_SHORT}"; }
amqp_port() { echo $((5700 + $1)); }
dist_port() { echo $((25700 + $1)); }
mgmt_port() { echo $((15700 + $1)); }
dir() { echo "${BASE}/rc$1"; }

ctl() {  # rabbitmqctl against node $1
    local n=$1
    shift
    timeout 60 rabbitmqctl -n "$(name "$n")" "$@"
}

node_env() {
    local n=$1 d
    d="$(dir "$n")"
    echo RABBITMQ_NODENAME="$(name "$n")" \
        RABBITMQ_NODE_PORT="$(amqp_port "$n")" \
        RABBITMQ_DIST_PORT="$(dist_port "$n")" \
        RABBITMQ_MNESIA_BASE="$d/mnesia" \
        RABBITMQ_LOG_BASE="$d/log" \
        RABBITMQ_PID_FILE="$d/pid" \
        RABBITMQ_CONFIG_FILE="$d/rabbitmq.conf" \
        RABBITMQ_ENABLED_PLUGINS_FILE="$d/enabled_plugins"
}

prepare() {
    local n=$1 d
    d="$(dir "$n")"
    mkdir -p "$d/mnesia" "$d/log"
    cat >"$d/rabbitmq.conf" <<EOF
listeners.tcp.default = $(amqp_port "$n")
management.tcp.port = $(mgmt_port "$n")
management.tcp.ip = 127.0.0.1
EOF
    echo '[rabbitmq_management].' >"$d/enabled_plugins"
    chown -R rabbitmq:rabbitmq "$BASE"
}

start_node() {
    local n=$1
    if ctl "$n" -q ping >/dev/null 2>&1; then
        log "$(name "$n") already running"
        return 0
    fi
    prepare "$n"
    log "starting $(name "$n") on AMQP $(amqp_port "$n")"
    # shellcheck disable=SC2046 # the node's environment, word by word
    env $(node_env "$n") setsid rabbitmq-server >"$(dir "$n")/server.out" 2>&1 </dev/null &
    ctl "$n" -q wait --timeout "$WAIT_SECONDS" "$(dir "$n")/pid" >/dev/null
    ctl "$n" -q await_startup >/dev/null
}

joined() {  # node $1 lists node 1 among its running nodes
    ctl "$1" -q cluster_status --formatter json 2>/dev/null | grep -q "\"$(name 1)\""
}

join() {
    local n=$1
    if joined "$n"; then
        return 0
    fi
    log "joining $(name "$n") to $(name 1)"
    ctl "$n" -q stop_app
    ctl "$n" -q join_cluster "$(name 1)"
    ctl "$n" -q start_app
}

start() {
    have rabbitmq-server || [[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]] \
        || die "rabbitmq-server is not installed (make infra installs it)"
    [[ $(id -u) == 0 ]] || die "run as root: each node runs as the rabbitmq user"
    for n in $(seq 1 "$COUNT"); do start_node "$n"; done
    for n in $(seq 2 "$COUNT"); do join "$n"; done
    log "cluster up: $(urls)"
}

urls() {
    local out=""
    for n in $(seq 1 "$COUNT"); do
        out+="${out:+,}amqp://guest:guest@127.0.0.1:$(amqp_port "$n")/"
    done
    echo "$out"
}

pid_of() { cat "$(dir "$1")/pid" 2>/dev/null || true; }

kill_node() {
    local n=$1 pid
    pid="$(pid_of "$n")"
    [[ -n "$pid" ]] || die "$(name "$n") has no pid file"
    log "SIGKILL $(name "$n") (pid $pid)"
    kill -9 "$pid"
}

stop() {
    local pid
    for n in $(seq "$COUNT" -1 1); do
        pid="$(pid_of "$n")"
        ctl "$n" -q stop >/dev/null 2>&1 || true
        # A node whose app was stopped, or that is still booting, may not answer: kill it.
        if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
            kill -9 "$pid" 2>/dev/null || true
        fi
    done
}

case "${1:-start}" in
    start) start ;;
    urls) urls ;;
    kill) kill_node "${2:?which node: 1, 2 or 3}" ;;
    restart) start_node "${2:?which node: 1, 2 or 3}" ;;
    stop-app) ctl "${2:?which node: 1, 2 or 3}" -q stop_app ;;
    start-app) ctl "${2:?which node: 1, 2 or 3}" -q start_app ;;
    stop) stop ;;
    clean) stop; rm -rf "$BASE" ;;
    *) die "usage: $0 start|urls|kill N|restart N|stop-app N|start-app N|stop|clean" ;;
esac
