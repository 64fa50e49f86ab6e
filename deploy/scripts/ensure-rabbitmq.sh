#!/usr/bin/env bash
# Make sure a RabbitMQ broker with the management plugin answers on
# 127.0.0.1:5672 (AMQP) and 127.0.0.1:15672 (HTTP API, guest/guest).
#
# Idempotent, in this order:
#   1. a broker already answers on both ports      -> reuse it, change nothing
#   2. rabbitmq-server is installed                -> enable management, start it
#   3. root and apt-get available                  -> apt-get install rabbitmq-server, then 2
#   4. a docker engine answers (`docker info`)     -> docker compose up -d rabbitmq
#   5. otherwise                                   -> explain what to install, exit 1
# then wait (bounded by RABBITMQ_WAIT_SECONDS, default 90) until both ports answer.
set -euo pipefail

LOG_TAG=ensure-rabbitmq
# shellcheck source=deploy/scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HOST=127.0.0.1
AMQP_PORT=5672
MGMT_PORT=15672
MGMT_URL="http://${HOST}:${MGMT_PORT}/api/overview"
# guest/guest is RabbitMQ's built-in DEVELOPMENT account (loopback-only by default).
MGMT_USER="${RABBITMQ_MGMT_USER:-guest}"
MGMT_PASSWORD="${RABBITMQ_MGMT_PASSWORD:-guest}"
WAIT_SECONDS="${RABBITMQ_WAIT_SECONDS:-90}"
MODE=""  # local | docker, set by main

amqp_up() { port_open "$HOST" "$AMQP_PORT"; }
mgmt_up() { http_ok "$MGMT_URL" "$MGMT_USER" "$MGMT_PASSWORD"; }
broker_ready() { amqp_up && mgmt_up; }

rabbitmq_installed() {
    have rabbitmq-server || [[ -x /usr/sbin/rabbitmq-server ]] || [[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]]
}

node_running() {
    timeout 20 rabbitmq-diagnostics -q ping >/dev/null 2>&1
}

enable_management() {
    if node_running; then
        rabbitmq-plugins enable -q rabbitmq_management >/dev/null
    else
        rabbitmq-plugins enable -q --offline rabbitmq_management >/dev/null
    fi
}

start_local_broker() {
    if node_running; then
        log "local rabbitmq node already running"
        return 0
    fi
    log "starting rabbitmq-server"
    if [[ -x /etc/init.d/rabbitmq-server ]]; then
        /etc/init.d/rabbitmq-server start
    elif have service; then
        service rabbitmq-server start
    else
        rabbitmq-server -detached
    fi
}

wait_ready() {
    if [[ "$MODE" == local ]]; then
        # Returns once the local node has fully booted (all plugins started).
        timeout "$WAIT_SECONDS" rabbitmqctl -q await_startup >/dev/null 2>&1 || true
    fi
    wait_until "$WAIT_SECONDS" "AMQP on ${HOST}:${AMQP_PORT}" amqp_up || return 1
    wait_until "$WAIT_SECONDS" "management API on ${MGMT_URL}" mgmt_up || return 1
}

main() {
    if broker_ready; then
        log "reusing the broker on ${HOST}:${AMQP_PORT} (management on :${MGMT_PORT})"
        return 0
    fi

    if rabbitmq_installed; then
        MODE=local
    elif can_apt; then
        apt_install rabbitmq-server || die "apt-get install rabbitmq-server failed"
        rabbitmq_installed || die "rabbitmq-server still missing after apt-get install"
        MODE=local
    elif docker_usable; then
        MODE=docker
    else
        die "no RabbitMQ on ${HOST}:${AMQP_PORT} and no way to get one.
  Install RabbitMQ 3.10+ with the management plugin, e.g. as root on Debian/Ubuntu:
      apt-get install rabbitmq-server && rabbitmq-plugins enable rabbitmq_management
      /etc/init.d/rabbitmq-server start
  or start a docker engine and run: docker compose up -d rabbitmq"
    fi

    case "$MODE" in
        local)
            log "enabling rabbitmq_management"
            enable_management
            start_local_broker
            ;;
        docker)
            log "starting rabbitmq with docker compose"
            docker_compose up -d rabbitmq
            ;;
    esac

    if ! wait_ready; then
        die "RabbitMQ did not become ready on ${HOST}:${AMQP_PORT}/${MGMT_PORT} within ${WAIT_SECONDS}s
  (local broker: see /var/log/rabbitmq/; docker: docker compose logs rabbitmq)"
    fi
    log "RabbitMQ ready on ${HOST}:${AMQP_PORT} (management on :${MGMT_PORT})"
}

main "$@"
