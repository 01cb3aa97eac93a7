#!/bin/sh
# Debian packages the test suite needs (real Modbus peers we did not write; socat makes
# the pseudo-terminal pair of the Modbus RTU test).
# Installs them when run as root and they are missing; otherwise says what to install.
set -eu
PACKAGES="mbpoll libmodbus-dev pkg-config socat"
missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
    echo "sysdeps: not a Debian-like system; install the equivalents of:$missing" >&2
    echo "sysdeps: tests that need them are skipped with a reason" >&2
    exit 0
fi
if [ "$(id -u)" = "0" ]; then
    echo "sysdeps: installing$missing"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
    echo "sysdeps: missing Debian packages:$missing" >&2
    echo "sysdeps: run:  sudo apt-get install$missing" >&2
    exit 1
fi
