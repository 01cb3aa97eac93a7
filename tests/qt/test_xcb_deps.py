"""packaging/sysdeps.sh installs what Qt's xcb platform plugin links: a real X server shows
the window (under Xvfb or a desktop) on a Debian system with nothing else installed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import PySide6
import pytest

ROOT = Path(__file__).parents[2]
QT = Path(PySide6.__file__).parent / "Qt"
#: the libraries of a desktop session Qt's xcb plugin needs (the rest is in any Debian base)
_DESKTOP = re.compile(r"^lib(xcb|x11|xkbcommon|egl|gl1|glx|fontconfig|freetype|dbus)")

pytestmark = pytest.mark.skipif(
    not (shutil.which("ldd") and shutil.which("dpkg")), reason="needs ldd and dpkg (Debian)"
)


def _gui_packages() -> set[str]:
    out = subprocess.run(
        ["sh", str(ROOT / "packaging" / "sysdeps.sh"), "--list-gui"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(out.split())


def _linked(library: Path) -> dict[str, str]:
    """``ldd`` of ``library``: soname -> resolved path ("not found" when missing)."""
    out = subprocess.run(["ldd", str(library)], capture_output=True, text=True, check=True)
    linked = {}
    for line in out.stdout.splitlines():
        name, arrow, rest = line.strip().partition(" => ")
        if arrow:
            linked[name] = rest.split(" (")[0].strip()
    return linked


def _package_of(path: str) -> str:
    real = str(Path(path).resolve())
    for candidate in (real, path):
        found = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if found.returncode == 0:
            return found.stdout.split(":")[0]
    return ""


def test_sysdeps_lists_every_desktop_library_the_xcb_plugin_links():
    plugin = QT / "plugins" / "platforms" / "libqxcb.so"
    assert plugin.is_file()
    linked = {**_linked(plugin), **_linked(QT / "lib" / "libQt6XcbQpa.so.6")}
    missing = [name for name, path in linked.items() if path == "not found"]
    assert not missing, f"not installed here: {missing} (sh packaging/sysdeps.sh gui)"
    system = {n: p for n, p in linked.items() if "PySide6" not in p and "/Qt/lib/" not in p}
    packages = {_package_of(path) for path in system.values()} - {""}
    needed = {p for p in packages if _DESKTOP.match(p)}
    assert {"libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1"} <= needed
    assert needed <= _gui_packages(), sorted(needed - _gui_packages())
