#!/bin/sh
# Debian packages (bookworm names) the application and its tests need beyond the venv.
#
#   sh packaging/sysdeps.sh          test and GUI packages (what `make test` calls)
#   sh packaging/sysdeps.sh gui      only what the window needs under a real X server
#   sh packaging/sysdeps.sh test     only what the test suite needs
#
# gui: Qt 6's xcb platform plugin (PySide6/Qt/plugins/platforms/libqxcb.so) and the
#   libraries it links (checked with ldd in tests/qt/test_xcb_deps.py), OpenGL and a font.
#   Without them `hmi demo` on a desktop fails with "could not load the Qt platform plugin
#   xcb". Headless runs (tests, `--screenshot` without DISPLAY) use Qt's offscreen platform
#   and need none of them.
# test: real Modbus peers we did not write (mbpoll, libmodbus); socat makes the
#   pseudo-terminal pair of the Modbus RTU test.
#   mosquitto: the MQTT broker of the Sparkplug B tests (each test starts its own on a
#   free port, never the system service); mosquitto-clients: mosquitto_sub, a subscriber
#   we did not write.
#   nodejs: runs the node-opcua server of the OPC UA tests (tests/peers/opcua, installed
#   with npm by `make peers`; NodeSource's nodejs carries npm, Debian's needs `npm` too).
#
# Installs what is missing when run as root; otherwise prints the apt-get line. Missing
# test packages fail (exit 1, tests would be skipped silently otherwise); missing GUI
# packages only warn, unless asked for with `gui`.
set -eu
GUI_PACKAGES="libxcb1 libx11-6 libx11-xcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0 \
libxcb-keysyms1 libxcb-randr0 libxcb-render0 libxcb-render-util0 libxcb-shape0 libxcb-shm0 \
libxcb-sync1 libxcb-util1 libxcb-xfixes0 libxcb-xkb1 libxkbcommon0 libxkbcommon-x11-0 \
libegl1 libgl1 libglx0 libfontconfig1 libfreetype6 libdbus-1-3 libglib2.0-0 fonts-dejavu-core"
TEST_PACKAGES="mbpoll libmodbus-dev pkg-config socat mosquitto mosquitto-clients nodejs"

case "${1:-all}" in
    gui) PACKAGES="$GUI_PACKAGES"; REQUIRED="$GUI_PACKAGES" ;;
    test) PACKAGES="$TEST_PACKAGES"; REQUIRED="$TEST_PACKAGES" ;;
    all) PACKAGES="$TEST_PACKAGES $GUI_PACKAGES"; REQUIRED="$TEST_PACKAGES" ;;
    --list-gui) echo $GUI_PACKAGES; exit 0 ;;
    *) echo "usage: sysdeps.sh [gui|test|all]" >&2; exit 2 ;;
esac

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing=""
for p in $PACKAGES; do
    installed "$p" || missing="$missing $p"
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
    exit 0
fi
echo "sysdeps: missing Debian packages:$missing" >&2
echo "sysdeps: run:  sudo apt-get install$missing" >&2
for p in $missing; do
    case " $REQUIRED " in *" $p "*) exit 1 ;; esac
done
echo "sysdeps: (the window under a real X server needs them; tests run offscreen without)" >&2
exit 0
