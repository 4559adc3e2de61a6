#!/usr/bin/env bash
# Make sure Debian's chromium is installed for the browser tests and print its path (the only
# line on stdout).  Idempotent.  Playwright drives this binary through executable_path; its own
# downloadable browsers are never used (`playwright install` cannot fetch anything here).
#
#   export PCOS_CHROMIUM="$(scripts/ensure-chromium.sh)"
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
    echo "ensure-chromium: installing Debian's chromium package" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq chromium >&2
fi
command -v chromium
