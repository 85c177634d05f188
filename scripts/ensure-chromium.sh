#!/usr/bin/env bash
# Make sure Debian's chromium (and fonts for the cards' text and emoji) is installed for the
# dashboard/card browser tests. Never fails the build: if it cannot install (no root, no
# network, not Debian) it says why and exits 0, and those tests skip with that reason.
set -u

PACKAGES="chromium fonts-dejavu-core fonts-noto-color-emoji"

missing=""
if command -v dpkg-query >/dev/null 2>&1; then
    for pkg in $PACKAGES; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
    done
elif ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
    echo "ensure-chromium: chromium not found and this is not a Debian-like system; browser tests will be skipped" >&2
    exit 0
fi
[ -z "$missing" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-chromium: apt-get not available to install$missing; browser tests may be skipped" >&2
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "ensure-chromium: need root (or passwordless sudo) to install$missing; browser tests may be skipped" >&2
        exit 0
    fi
fi

echo "ensure-chromium: installing$missing with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get update -qq >/dev/null; then
    echo "ensure-chromium: apt-get update failed; browser tests may be skipped" >&2
    exit 0
fi
# shellcheck disable=SC2086  # word splitting of the package list is intended
if ! $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null; then
    echo "ensure-chromium: apt-get install$missing failed; browser tests may be skipped" >&2
    exit 0
fi
echo "ensure-chromium: $(chromium --version 2>/dev/null || echo 'chromium installed')" >&2
exit 0
