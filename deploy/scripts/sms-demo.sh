#!/usr/bin/env bash
# make sms-demo: coord with a local Kannel SMS gateway and Kannel's fake SMS centre, to
# see the SMS loop on one machine, offline:
#   - coord (the three services, as `make run`, on a database of the demo's own) with
#     COORD_SMS_* pointing at Kannel;
#   - bearerbox and smsbox on deploy/kannel/kannel.conf itself (its fake SMS centre on
#     port 10000, sendsms on 13013), the CHANGE-ME secrets replaced by the demo's
#     (deploy/kannel/render-conf.sh);
#   - the directory of deploy/directory.yaml in which Awa Ndiaye is reached by SMS first,
#     on +243990000111, in French, loaded with `coord directory load` (which seals the
#     community contacts: Kavira M., focal point of Mavivi, is +243990000222);
#   - in the foreground, fakesmsc, which plays the phones: it prints every SMS coord sends
#     ("Got message ...") and sends each line typed here, or appended to
#     /tmp/coord-sms-demo/phones from another terminal, as an SMS received, e.g.
#       +243990000111 +243990000000 text ACC 4821
# Ctrl-C stops everything. Development secrets only (COORD_ENV=development).
set -euo pipefail

LOG_TAG=sms-demo
# shellcheck source=deploy/scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

FAKESMSC=/usr/lib/kannel/test/fakesmsc
SECRET=dev-only-insecure-sms-secret-change-me  # shared/settings.py's development default
PASSWORD=sms-demo-sendsms-password
AWA_PHONE="+243990000111"
GATEWAY_NUMBER="+243990000000"

for port in 8000 10000 13000 13001 13013; do
    if port_open 127.0.0.1 "$port"; then
        die "port $port is in use: stop \`make run\` (or whatever holds it) first"
    fi
done

# A fixed place, so that another terminal can type for the phones (README, "By SMS").
WORK=/tmp/coord-sms-demo
rm -rf "$WORK"
mkdir -p "$WORK"
PHONES="$WORK/phones"
: >"$PHONES"
PIDS=()
cleanup() {
    trap - EXIT INT TERM
    log "stopping"
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    # coord finishes what it handles and bearerbox flushes its queues: up to 10 s.
    for _ in $(seq 1 20); do
        alive=0
        for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [[ "$alive" -eq 0 ]] && break
        sleep 0.5
    done
    for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    pkill -f "tail -n0 -f $PHONES" 2>/dev/null || true
    log "logs kept in $WORK"
}
trap cleanup EXIT INT TERM

# The shipped template, as a mission would deploy it, with the demo's secrets and logs
# (the renderer the compose profile's container uses too; everything else as shipped).
COORD_ENV=development KANNEL_SENDSMS_PASSWORD="$PASSWORD" KANNEL_INBOUND_SECRET="$SECRET" \
    KANNEL_ADMIN_PASSWORD=sms-demo-admin KANNEL_LOG_DIR="$WORK" \
    sh deploy/kannel/render-conf.sh deploy/kannel/kannel.conf "$WORK/kannel.conf"

# Awa reached by SMS first, in French: her pages are SMS, her replies act.
.venv/bin/python - "$WORK/directory.yaml" "$AWA_PHONE" <<'PY'
import sys

import yaml

path, phone = sys.argv[1:3]
with open("deploy/directory.yaml", encoding="utf-8") as source:
    data = yaml.safe_load(source)
for person in data["people"]:
    if person["id"] == "awa.hfo":
        person["contacts"].insert(0, {"channel": "sms", "address": phone})
        person["language"] = "fr"
with open(path, "w", encoding="utf-8") as target:
    yaml.safe_dump(data, target, sort_keys=False, allow_unicode=True)
PY

/usr/sbin/bearerbox "$WORK/kannel.conf" >"$WORK/bearerbox.out" 2>&1 &
PIDS+=($!)
sleep 1
/usr/sbin/smsbox "$WORK/kannel.conf" >"$WORK/smsbox.out" 2>&1 &
PIDS+=($!)

export COORD_ENV=development
export COORD_DIRECTORY="$WORK/directory.yaml"
export COORD_DATABASE_URL="sqlite+aiosqlite:///$WORK/coord.db"
export COORD_SMS_KANNEL_URL=http://127.0.0.1:13013/cgi-bin/sendsms
export COORD_SMS_KANNEL_PASSWORD="$PASSWORD"
export COORD_SMS_INBOUND_SECRET="$SECRET"
export COORD_SMS_DEFAULT_REGION=CD
export COORD_LOG_FORMAT=json
.venv/bin/coord db upgrade >"$WORK/migrate.log" 2>&1
.venv/bin/coord up >"$WORK/coord.log" 2>&1 &
PIDS+=($!)

for _ in $(seq 1 60); do
    http_ok http://127.0.0.1:8000/readyz && break
    sleep 0.5
done
http_ok http://127.0.0.1:8000/readyz || die "coord did not start: see $WORK/coord.log"
# Loaded as a mission would: the focal points' names and phones go into the store sealed.
COORD_TOKEN=$(.venv/bin/coord token ops.admin) \
    .venv/bin/coord directory load "$WORK/directory.yaml" >"$WORK/directory-load.log" 2>&1 \
    || die "coord directory load failed: see $WORK/directory-load.log"

cat <<HINT

coord and Kannel are up (logs in $WORK). This terminal is the phones (fakesmsc).
From another terminal, raise an alert that pages Awa (she is paged by SMS, in French):

  export COORD_ENV=development
  TOKEN=\$(.venv/bin/coord token jo.operator)
  ID=\$(curl -sS -X POST http://127.0.0.1:8000/v1/alerts -H "Authorization: Bearer \$TOKEN" \\
    -H 'Content-Type: application/json' \\
    -d '{"title": "Deux agriculteurs enlevés près de Mavivi", "category": "abduction",
         "severity": "severe", "urgency": "immediate", "certainty": "observed",
         "sector": "beni", "location": {"name": "Mavivi"}, "origin": "community",
         "classification": "unclassified"}' | jq -r .id)
  until CODE=\$(curl -sS http://127.0.0.1:8000/v1/alerts/\$ID -H "Authorization: Bearer \$TOKEN" | jq -re .code); do sleep 1; done

Her page shows here ("Got message ... COORD <code>: ... Répondez ACC <code>"). Answer
as her by typing here (one line, then Enter):

  $AWA_PHONE $GATEWAY_NUMBER text ACC <code>

or from the other terminal:

  echo "$AWA_PHONE $GATEWAY_NUMBER text ACC \$CODE" >> $PHONES

Her answer comes back ("... réception accusée. Merci.") and the alert is acknowledged.
Kavira, focal point of Mavivi, reports by SMS (README, "The community loop"):

  +243990000222 $GATEWAY_NUMBER text ALERTE hommes armes vus pres de l'ecole

Ctrl-C stops coord, Kannel and this.

HINT
# fakesmsc reads what bearerbox sends only between its waits on this terminal (up to a
# second each): an SMS shows within a second or so. At -v 0 it prints each SMS ("Got
# message"), a debug line.
{ tail -n0 -f "$PHONES" & cat; } | "$FAKESMSC" -H 127.0.0.1 -r 10000 -i 0.1 -m -1 -v 0 || true
