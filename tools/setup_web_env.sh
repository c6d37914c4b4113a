#!/usr/bin/env bash
# What the pose page's browser tests and benchmark need beside Python:
# Node.js (20), the system's Chromium (Debian's `chromium` package; no
# browser is downloaded at run time) and the npm packages pinned in
# web/package-lock.json (onnxruntime-web, playwright-core).
#
#   tools/setup_web_env.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { echo "[setup-web $(date +%H:%M:%S)] $*"; }

if ! command -v node > /dev/null; then
    echo "error: the browser tests need Node.js 20 (node and npm)" >&2
    exit 1
fi
if ! command -v chromium > /dev/null && \
        ! command -v chromium-browser > /dev/null && [ -z "${CHROMIUM:-}" ]; then
    log "installing Chromium (apt)"
    SUDO=""
    if [ "$(id -u)" != 0 ]; then
        if sudo -n true 2> /dev/null; then
            SUDO="sudo -n"
        else
            echo "error: Chromium is missing and apt needs root: install" \
                "Debian's chromium package, or set CHROMIUM to a" \
                "Chromium executable" >&2
            exit 1
        fi
    fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
        --no-install-recommends chromium > /dev/null
fi
# npm ci reinstalls from the lock file; skip it when node_modules was
# installed after the lock file last changed
if [ ! web/node_modules/.package-lock.json -nt web/package-lock.json ]; then
    log "npm ci (web/package-lock.json)"
    npm ci --prefix web --no-audit --no-fund --loglevel=error
fi
log "ready: node $(node --version), $( (command -v chromium || \
    command -v chromium-browser || echo "$CHROMIUM") | head -1)"
