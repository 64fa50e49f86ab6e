#!/bin/sh
# Renders deploy/kannel/kannel.conf, the shipped template, into the configuration a Kannel
# runs: its CHANGE-ME secrets, its ports, where coord's ingest is and who may connect,
# from the environment. Every Kannel that runs the template goes through here (`make
# sms-demo`, the compose profile "kannel", tests/integration/cli/test_kannel_conf.py), so
# the template stays the one source of truth and no copy of it drifts.
#
# Usage: render-conf.sh TEMPLATE OUTPUT     (OUTPUT is written mode 0600: it holds secrets)
#
# Required. Letters, digits and . _ ~ - only: the secret goes into a URL and the passwords
# into kannel.conf unquoted (`openssl rand -hex 32` makes one):
#   KANNEL_SENDSMS_PASSWORD  coord's account on sendsms = coord's COORD_SMS_KANNEL_PASSWORD
#   KANNEL_INBOUND_SECRET    the get-url's secret      = coord's COORD_SMS_INBOUND_SECRET
#   KANNEL_ADMIN_PASSWORD    bearerbox's administration interface
# A value starting dev-only-insecure- (docker-compose.yml's published defaults) is refused
# unless COORD_ENV=development, as coord's services refuse theirs.
# Optional; the defaults are the template's (one host, everything on 127.0.0.1):
#   KANNEL_COORD_INGEST       host:port of coord's ingest in the get-url     127.0.0.1:8000
#   KANNEL_SENDSMS_INTERFACE  the address sendsms listens on (0.0.0.0: all)  127.0.0.1
#   KANNEL_SENDSMS_ALLOW_IP   who may use sendsms (Kannel's patterns, e.g.   127.0.0.1
#                             "10.0.*.*;127.0.0.1")
#   KANNEL_SMSC_ALLOW_IP      who may connect the fake SMS centre            127.0.0.1
#   KANNEL_LOG_DIR            the boxes' log files                           /var/log/kannel
#   KANNEL_ADMIN_PORT, KANNEL_SMSBOX_PORT, KANNEL_SENDSMS_PORT, KANNEL_SMSC_PORT
#                                                              13000, 13001, 13013, 10000
#
# A missing or malformed value, a line of the template this does not find (the template
# changed under it: nothing would be replaced, silently), and a CHANGE-ME left outside a
# comment (a modem's PIN, an SMPP password not filled in) stop it, exit 1, OUTPUT untouched.
set -eu

die() {
    printf 'render-conf.sh: %s\n' "$*" >&2
    exit 1
}

[ "$#" -eq 2 ] || die "usage: render-conf.sh TEMPLATE OUTPUT"
template=$1
output=$2
[ -r "$template" ] || die "cannot read the template $template"

# check_secret NAME VALUE
check_secret() {
    case $2 in
    '') die "$1 is not set" ;;
    *[!A-Za-z0-9._~-]*) die "$1 may hold only letters, digits and . _ ~ -" ;;
    *CHANGE-ME*) die "$1 is still the template's CHANGE-ME" ;;
    esac
}

# check_not_published NAME VALUE: docker-compose.yml's development defaults are published
# with the code; a Kannel running on one sends SMS as the mission for anyone who reads it.
check_not_published() {
    case $2 in
    dev-only-insecure-*)
        [ "${COORD_ENV:-production}" = development ] ||
            die "$1 is a published development default: set your own (COORD_ENV=development allows it for a demo)"
        ;;
    esac
}

# check_port NAME VALUE
check_port() {
    case $2 in
    '' | *[!0-9]*) die "$1 must be a TCP port number, not '$2'" ;;
    esac
    if [ "$2" -lt 1 ] || [ "$2" -gt 65535 ]; then
        die "$1 must be a TCP port number, not '$2'"
    fi
}

# check_host NAME VALUE: a host name or an IPv4 address.
check_host() {
    case $2 in
    '' | *[!A-Za-z0-9.-]*) die "$1 must be a host name or an IPv4 address, not '$2'" ;;
    esac
}

# check_patterns NAME VALUE: Kannel's IP list, "*" for any number, ";" between patterns.
check_patterns() {
    case $2 in
    '' | *[!0-9.*\;]*) die "$1 must be Kannel IP patterns such as 127.0.0.1;10.0.*.*, not '$2'" ;;
    esac
}

sendsms_password=${KANNEL_SENDSMS_PASSWORD:-}
inbound_secret=${KANNEL_INBOUND_SECRET:-}
admin_password=${KANNEL_ADMIN_PASSWORD:-}
ingest=${KANNEL_COORD_INGEST:-127.0.0.1:8000}
sendsms_interface=${KANNEL_SENDSMS_INTERFACE:-127.0.0.1}
sendsms_allow=${KANNEL_SENDSMS_ALLOW_IP:-127.0.0.1}
smsc_allow=${KANNEL_SMSC_ALLOW_IP:-127.0.0.1}
log_dir=${KANNEL_LOG_DIR:-/var/log/kannel}
admin_port=${KANNEL_ADMIN_PORT:-13000}
smsbox_port=${KANNEL_SMSBOX_PORT:-13001}
sendsms_port=${KANNEL_SENDSMS_PORT:-13013}
smsc_port=${KANNEL_SMSC_PORT:-10000}

check_secret KANNEL_SENDSMS_PASSWORD "$sendsms_password"
check_secret KANNEL_INBOUND_SECRET "$inbound_secret"
check_secret KANNEL_ADMIN_PASSWORD "$admin_password"
check_not_published KANNEL_SENDSMS_PASSWORD "$sendsms_password"
check_not_published KANNEL_INBOUND_SECRET "$inbound_secret"
check_not_published KANNEL_ADMIN_PASSWORD "$admin_password"
case $ingest in
*:*) ;;
*) die "KANNEL_COORD_INGEST must be host:port, not '$ingest'" ;;
esac
check_host KANNEL_COORD_INGEST "${ingest%:*}"
check_port KANNEL_COORD_INGEST "${ingest##*:}"
check_host KANNEL_SENDSMS_INTERFACE "$sendsms_interface"
check_patterns KANNEL_SENDSMS_ALLOW_IP "$sendsms_allow"
check_patterns KANNEL_SMSC_ALLOW_IP "$smsc_allow"
case $log_dir in
/*) ;;
*) die "KANNEL_LOG_DIR must be an absolute path, not '$log_dir'" ;;
esac
case $log_dir in
*[!A-Za-z0-9._/-]*) die "KANNEL_LOG_DIR may hold only letters, digits and . _ / -" ;;
esac
while [ "$log_dir" != / ] && [ "${log_dir%/}" != "$log_dir" ]; do log_dir=${log_dir%/}; done
check_port KANNEL_ADMIN_PORT "$admin_port"
check_port KANNEL_SMSBOX_PORT "$smsbox_port"
check_port KANNEL_SENDSMS_PORT "$sendsms_port"
check_port KANNEL_SMSC_PORT "$smsc_port"

umask 077
partial="$output.partial.$$"
trap 'rm -f "$partial" "$partial.plain"' EXIT
trap 'exit 1' INT TERM

# Every value is checked above to hold none of sed's | & \ nor a quote or a line break.
# Anchored on the template's own lines, so a commented-out group is left as it is. The
# secrets are not among them: they go in below, from the environment, never on a command
# line (which `ps` shows to everyone on the host, the container's processes included).
sed -e "s|^admin-port = 13000\$|admin-port = $admin_port|" \
    -e "s|^smsbox-port = 13001\$|smsbox-port = $smsbox_port|" \
    -e "s|^bearerbox-port = 13001\$|bearerbox-port = $smsbox_port|" \
    -e "s|^port = 10000\$|port = $smsc_port|" \
    -e "s|^connect-allow-ip = \"127\\.0\\.0\\.1\"\$|connect-allow-ip = \"$smsc_allow\"|" \
    -e "s|^sendsms-port = 13013\$|sendsms-port = $sendsms_port|" \
    -e "s|^sendsms-interface = 127\\.0\\.0\\.1\$|sendsms-interface = $sendsms_interface|" \
    -e "s|^user-allow-ip = \"127\\.0\\.0\\.1\"\$|user-allow-ip = \"$sendsms_allow\"|" \
    -e "s|^get-url = \"http://127\\.0\\.0\\.1:8000/|get-url = \"http://$ingest/|" \
    -e "s|\"/var/log/kannel/|\"$log_dir/|" \
    "$template" >"$partial.plain"
# The three secrets, by plain string operations (no regular expression sees them).
RENDER_ADMIN=$admin_password RENDER_SENDSMS=$sendsms_password RENDER_INBOUND=$inbound_secret \
    awk '
    $0 == "admin-password = CHANGE-ME" { print "admin-password = " ENVIRON["RENDER_ADMIN"]; next }
    $0 == "password = CHANGE-ME" { print "password = " ENVIRON["RENDER_SENDSMS"]; next }
    /^get-url = / && (at = index($0, "secret=CHANGE-ME&")) > 0 {
        print substr($0, 1, at + 6) ENVIRON["RENDER_INBOUND"] substr($0, at + 16)
        next
    }
    { print }
    ' "$partial.plain" >"$partial"
rm -f "$partial.plain"

# has LINE: the rendered file has that exact line (given on standard input: a builtin's
# output, so a secret in it is on no command line).
has() {
    printf '%s\n' "$1" | grep -qxF -f - "$partial"
}
# require LINE: has LINE, or the template changed under this script.
require() {
    has "$1" || die "the template has no line for '${2:-$1}': was it changed?"
}
require "admin-port = $admin_port"
require "admin-password = $admin_password" "admin-password = CHANGE-ME"
require "smsbox-port = $smsbox_port"
require "bearerbox-port = $smsbox_port"
require "sendsms-port = $sendsms_port"
require "sendsms-interface = $sendsms_interface"
require "password = $sendsms_password" "password = CHANGE-ME"
require "user-allow-ip = \"$sendsms_allow\""
get_url=$(grep "^get-url = \"http://$ingest/" "$partial" || true)
case $get_url in
*"?secret=$inbound_secret&"* | *"&secret=$inbound_secret&"*) ;;
*) die "the template's get-url is not http://127.0.0.1:8000/...?secret=CHANGE-ME&...: was it changed?" ;;
esac
# The fake SMS centre's lines only while the template has it: a modem or SMPP has neither.
if has 'smsc = fake'; then
    require "port = $smsc_port"
    require "connect-allow-ip = \"$smsc_allow\""
fi
# Line numbers only: a line holding a placeholder may hold a real secret beside it.
left=$(grep -n '^[^#]*CHANGE-ME' "$partial" | cut -d: -f1 | tr '\n' ' ' || true)
[ -z "$left" ] || die "CHANGE-ME left on line(s) ${left% } of $template: fill them in there"

mv -f "$partial" "$output"
