#!/usr/bin/env bash
# Make sure PostgreSQL 15 answers on 127.0.0.1:5432 and that the application
# role and database exist, reachable with password authentication over TCP:
#
#     postgresql+asyncpg://coord:coord@127.0.0.1:5432/coord
#
# DEVELOPMENT DEFAULTS: role `coord`, password `coord`, database `coord`.
# Override with PG_APP_USER / PG_APP_PASSWORD / PG_APP_DB; never use these
# values for anything reachable from outside the machine.
#
# Idempotent, in this order:
#   1. a server already answers on 127.0.0.1:5432   -> reuse it
#   2. PostgreSQL 15 is installed                    -> create the cluster if missing, start it
#   3. root and apt-get available                    -> apt-get install postgresql, then 2
#   4. a docker engine answers (`docker info`)       -> docker compose up -d postgres
#   5. otherwise                                     -> explain what to install, exit 1
# then wait (bounded by PG_WAIT_SECONDS, default 60) for `pg_isready -h 127.0.0.1`,
# and, for a local cluster, create the role/database (as the `postgres` OS user)
# and check that password login over TCP works, fixing pg_hba.conf if it does not.
# On a second run nothing is changed.
set -euo pipefail

LOG_TAG=ensure-postgres
# shellcheck source=deploy/scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_VERSION="${PG_VERSION:-15}"
PG_CLUSTER="${PG_CLUSTER:-main}"
HOST=127.0.0.1
PORT="${PG_PORT:-5432}"
WAIT_SECONDS="${PG_WAIT_SECONDS:-60}"
# DEVELOPMENT DEFAULTS (see header).
APP_USER="${PG_APP_USER:-coord}"
APP_PASSWORD="${PG_APP_PASSWORD:-coord}"
APP_DB="${PG_APP_DB:-coord}"
MODE=""  # local | docker | external, set by main

pg_ready() {
    if have pg_isready; then
        pg_isready -q -h "$HOST" -p "$PORT" -t 3
    else
        port_open "$HOST" "$PORT"
    fi
}

pg_installed() {
    [[ -x "/usr/lib/postgresql/${PG_VERSION}/bin/postgres" ]] && have pg_ctlcluster
}

# A local Debian cluster (any version) is online on $PORT.
local_cluster_online() {
    have pg_lsclusters && pg_lsclusters -h 2>/dev/null | awk -v p="$PORT" '$3 == p && $4 ~ /online/ { found = 1 } END { exit !found }'
}

cluster_exists() {
    have pg_lsclusters && pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1 == v && $2 == c { found = 1 } END { exit !found }'
}

start_local_cluster() {
    if ! cluster_exists; then
        log "creating cluster ${PG_VERSION}/${PG_CLUSTER} on port ${PORT}"
        pg_createcluster --port "$PORT" "$PG_VERSION" "$PG_CLUSTER" >/dev/null
    fi
    if local_cluster_online; then
        return 0
    fi
    # Socket directory: normally made by systemd-tmpfiles, which does not run without systemd.
    install -d -o postgres -g postgres -m 2775 /var/run/postgresql
    log "starting cluster ${PG_VERSION}/${PG_CLUSTER}"
    pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start
}

# as_postgres COMMAND...: run COMMAND as the `postgres` OS user (cwd /tmp).
as_postgres() {
    if [[ "$(id -un)" == postgres ]]; then
        (cd /tmp && "$@")
    elif have runuser && is_root; then
        (cd /tmp && runuser -u postgres -- "$@")
    else
        local cmd
        printf -v cmd '%q ' "$@"
        (cd /tmp && su postgres -s /bin/sh -c "$cmd")
    fi
}

superuser_psql() {
    as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$PORT" -d postgres \
        -v app_user="$APP_USER" -v app_password="$APP_PASSWORD" -v app_db="$APP_DB" "$@"
}

app_login_ok() {
    PGPASSWORD="$APP_PASSWORD" PGCONNECT_TIMEOUT=5 \
        psql -X -q -w -h "$HOST" -p "$PORT" -U "$APP_USER" -d "$APP_DB" -Atc 'select 1' >/dev/null 2>&1
}

# Create the role and database when missing; never touches them when present.
ensure_role_and_db() {
    local state
    state="$(superuser_psql -At <<'SQL'
SELECT (SELECT count(*) FROM pg_roles WHERE rolname = :'app_user' AND rolcanlogin AND rolcreatedb)
    || ' ' || (SELECT count(*) FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba
                WHERE d.datname = :'app_db' AND r.rolname = :'app_user');
SQL
)"
    if [[ "$state" == "1 1" ]]; then
        return 0
    fi
    log "creating/updating role ${APP_USER} (LOGIN CREATEDB) and database ${APP_DB} owned by it"
    superuser_psql <<'SQL'
SELECT format('CREATE ROLE %I LOGIN CREATEDB PASSWORD %L', :'app_user', :'app_password')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'app_user') \gexec
SELECT format('ALTER ROLE %I LOGIN CREATEDB', :'app_user')
  FROM pg_roles WHERE rolname = :'app_user' AND NOT (rolcanlogin AND rolcreatedb) \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'app_db', :'app_user')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'app_db') \gexec
SELECT format('ALTER DATABASE %I OWNER TO %I', :'app_db', :'app_user')
  FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba
 WHERE d.datname = :'app_db' AND r.rolname <> :'app_user' \gexec
SQL
}

reset_password() {
    log "resetting the password of role ${APP_USER} (scram-sha-256)"
    superuser_psql <<'SQL'
SET password_encryption = 'scram-sha-256';
SELECT format('ALTER ROLE %I PASSWORD %L', :'app_user', :'app_password') \gexec
SQL
}

# Put a password rule for the app role on 127.0.0.1 ahead of every other rule.
fix_hba() {
    local hba
    hba="$(superuser_psql -At -c 'SHOW hba_file')"
    [[ -f "$hba" ]] || die "cannot find pg_hba.conf (SHOW hba_file gave '${hba}')"
    log "adding 'host all ${APP_USER} 127.0.0.1/32 scram-sha-256' at the top of ${hba}"
    local tmp
    tmp="$(mktemp)"
    {
        echo "# Added by deploy/scripts/ensure-postgres.sh (development): password login over TCP."
        printf 'host    all    %s    127.0.0.1/32    scram-sha-256\n' "$APP_USER"
        cat "$hba"
    } >"$tmp"
    cat "$tmp" >"$hba"
    rm -f "$tmp"
    superuser_psql -At -c 'SELECT pg_reload_conf()' >/dev/null
}

# The benchmark counts statements per alert with pg_stat_statements, which must be
# preloaded (one restart, once); the extension lives in the app database, readable by
# the app role through pg_read_all_stats. Development and benchmark machines only.
ensure_stat_statements() {
    if [[ "$(superuser_psql -At -c 'SHOW shared_preload_libraries')" != *pg_stat_statements* ]]; then
        log "preloading pg_stat_statements (ALTER SYSTEM, restart of ${PG_VERSION}/${PG_CLUSTER})"
        superuser_psql -c "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"
        pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" restart
        wait_until "$WAIT_SECONDS" "pg_isready after restart" pg_ready || die "PostgreSQL did not come back"
    fi
    as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$PORT" -d "$APP_DB" \
        -c 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements' >/dev/null
    superuser_psql -c "GRANT pg_read_all_stats TO \"${APP_USER}\"" >/dev/null
}

ensure_tcp_login() {
    have psql || die "psql not found; install postgresql-client"
    if app_login_ok; then
        return 0
    fi
    reset_password
    if app_login_ok; then
        return 0
    fi
    fix_hba
    sleep 1
    app_login_ok || die "password login as ${APP_USER} on ${HOST}:${PORT} still fails; check pg_hba.conf and the server log"
}

main() {
    if pg_ready; then
        if local_cluster_online; then
            MODE=local
            log "reusing the local PostgreSQL cluster on ${HOST}:${PORT}"
        else
            MODE=external
            log "reusing the PostgreSQL server on ${HOST}:${PORT} (not a local Debian cluster)"
        fi
    elif pg_installed; then
        MODE=local
        start_local_cluster
    elif can_apt; then
        apt_install postgresql || die "apt-get install postgresql failed"
        pg_installed || die "PostgreSQL ${PG_VERSION} still missing after apt-get install postgresql (set PG_VERSION?)"
        MODE=local
        start_local_cluster
    elif docker_usable; then
        MODE=docker
        log "starting postgres with docker compose"
        docker_compose up -d postgres
    else
        die "no PostgreSQL on ${HOST}:${PORT} and no way to get one.
  Install PostgreSQL ${PG_VERSION}, e.g. as root on Debian 12:
      apt-get install postgresql && pg_ctlcluster ${PG_VERSION} main start
  or start a docker engine and run: docker compose up -d postgres"
    fi

    wait_until "$WAIT_SECONDS" "pg_isready -h ${HOST} -p ${PORT}" pg_ready ||
        die "PostgreSQL did not become ready on ${HOST}:${PORT} within ${WAIT_SECONDS}s
  (local: /var/log/postgresql/; docker: docker compose logs postgres)"

    case "$MODE" in
        local)
            ensure_role_and_db
            ensure_tcp_login
            ensure_stat_statements
            ;;
        docker | external)
            # The role and database come from the server's own setup (docker-compose.yml
            # sets POSTGRES_USER/PASSWORD/DB); only check that they work, when we can.
            if have psql; then
                wait_until "$WAIT_SECONDS" "login as ${APP_USER} on ${HOST}:${PORT}" app_login_ok ||
                    die "PostgreSQL answers on ${HOST}:${PORT} but login as ${APP_USER}/${APP_DB} fails;
  create the role and database there (see the header of this script)"
            else
                log "psql not installed: cannot check the login as ${APP_USER}"
            fi
            ;;
    esac
    log "PostgreSQL ready: postgresql+asyncpg://${APP_USER}:***@${HOST}:${PORT}/${APP_DB}"
}

main "$@"
