#!/usr/bin/env bash
# The kannel container's health: bearerbox answers on its administration port and lists an
# smsbox among its box connections, i.e. both boxes are up and joined (a lone smsbox would
# still answer sendsms). Plain bash: the image has no HTTP client.
#
# The status page asks no password while the configuration sets no status-password (the
# template sets none) and is served to 127.0.0.1 only (admin-allow-ip), where this runs.
# KANNEL_ADMIN_PORT: bearerbox's admin port (13000).
set -euo pipefail

exec 3<>"/dev/tcp/127.0.0.1/${KANNEL_ADMIN_PORT:-13000}"
printf 'GET /status.txt HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
page=$(timeout 5 cat <&3)
exec 3<&-
[[ "$page" == HTTP/1.[01]\ 200* ]] || exit 1
grep -Eq '^[[:space:]]+smsbox:' <<<"$page"
