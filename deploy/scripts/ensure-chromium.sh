#!/usr/bin/env bash
# Make sure a `chromium` is on PATH for the real-browser tests (tests/support/browser.py
# drives it with Playwright for Python; `playwright install` and its browser download are
# never used).
#
# Idempotent:
#   1. `chromium` on PATH             -> nothing to do
#   2. root and apt-get available     -> apt-get install chromium (Debian's package)
#   3. otherwise                      -> explain what to install, exit 1
#
# No font package is added: apt_install skips Recommends (so fonts-liberation, which
# chromium-common only recommends, does not come), but chromium's libfontconfig1 needs
# fontconfig-config, which depends on fonts-dejavu-core (or another font): pages render
# with real glyphs either way.
set -euo pipefail

LOG_TAG=ensure-chromium
# shellcheck source=deploy/scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

main() {
    have chromium && return 0
    if can_apt; then
        apt_install chromium || die "apt-get install chromium failed"
        hash -r
        have chromium || die "chromium still not on PATH after apt-get install chromium"
        log "installed $(chromium --version 2>/dev/null || echo chromium)"
    else
        die "chromium not found; the browser tests need it on PATH.
  Install it as root on Debian 12: apt-get install chromium
  (or run \`make infra\` as root, which does that)"
    fi
}

main "$@"
