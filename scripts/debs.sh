#!/usr/bin/env bash
# Install the Debian packages named on the command line when running as root;
# otherwise say exactly which ones are missing and how to install them.
set -euo pipefail
missing=()
for pkg in "$@"; do
  # npm may come with another nodejs build (nodesource's bundles it): a
  # working `npm` command is what we need, whichever package gave it.
  if [ "$pkg" = npm ] && command -v npm >/dev/null 2>&1; then
    continue
  fi
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
  echo "Installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The tor, nginx and dovecot packages start system services; Səsim's tests and its
  # demo (make run: dovecot-imapd) run their own on 127.0.0.1, so stop those.
  for service in tor nginx dovecot; do
    if printf '%s\n' "${missing[@]}" | grep -q "^$service"; then
      (systemctl disable --now "$service" 2>/dev/null || service "$service" stop 2>/dev/null) >/dev/null || true
    fi
  done
else
  echo "Missing Debian packages: ${missing[*]}" >&2
  echo "Install them as root:  apt-get install ${missing[*]}" >&2
  exit 1
fi
