#!/usr/bin/env bash
# Debian packages the test suite drives for real: Chromium (browser tests through
# Playwright, never a downloaded browser), docker-compose (validates docker-compose.yml
# without an engine), Dovecot (a real IMAP server for the email channel) and openssl
# (test certificates for STARTTLS/TLS), nginx (a real TLS reverse proxy in front of the hub).
# Installs only what is missing; needs root or sudo.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ] || need+=(dovecot-imapd)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
echo "installing system packages: ${need[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
# Dovecot's package starts a system service we do not use; the tests run their own instance.
# Same for nginx.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now dovecot nginx >/dev/null 2>&1 || true; fi
