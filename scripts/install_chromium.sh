#!/usr/bin/env bash
# The system Chromium the tests drive headless (Playwright's own browser download cannot work offline:
# PITFALLS 18). Installs Debian's `chromium` package when there is no Chromium and this runs as root;
# otherwise says what to do. CVW_CHROMIUM may point at another Chromium binary.
set -euo pipefail
if [ -n "${CVW_CHROMIUM:-}" ] || command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's chromium (the tests check pages in it; about 20 s)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
    command -v chromium >/dev/null
else
    echo "warning: no Chromium found; the browser tests need one: sudo apt-get install -y chromium" \
         "(or set CVW_CHROMIUM to a Chromium binary)" >&2
fi
