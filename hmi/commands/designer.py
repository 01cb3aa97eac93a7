"""``hmi designer [screen.ui]``: Qt Designer (from PySide6) with the HMI widgets registered."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any


def register(commands: Any) -> None:
    """Add ``designer`` to the sub-parsers."""
    cmd = commands.add_parser(
        "designer", help="edit screens in Qt Designer with the HMI widgets in its widget box"
    )
    cmd.add_argument("files", nargs="*", type=Path, metavar="SCREEN.ui", help="screens to open")
    cmd.add_argument(
        "--print-env",
        action="store_true",
        help="print the environment Designer would get, and exit (for scripts and tests)",
    )
    cmd.set_defaults(handler=run)


def designer_environment(plugin_dir: Path) -> dict[str, str]:
    """The environment for Designer: our plugin folder, and ``hmi`` importable in it."""
    from hmi.qt.designer import PLUGIN_SOURCE

    plugin_dir.mkdir(parents=True, exist_ok=True)
    (plugin_dir / "register_hmi.py").write_text(PLUGIN_SOURCE, encoding="utf-8")
    env = dict(os.environ)
    folders = [
        str(plugin_dir),
        *filter(None, env.get("PYSIDE_DESIGNER_PLUGINS", "").split(os.pathsep)),
    ]
    env["PYSIDE_DESIGNER_PLUGINS"] = os.pathsep.join(dict.fromkeys(folders))
    # Designer embeds its own interpreter: it must find the hmi package and the venv.
    import site

    package_root = str(Path(__file__).resolve().parents[2])
    paths = [
        package_root,
        *site.getsitepackages(),
        *filter(None, env.get("PYTHONPATH", "").split(os.pathsep)),
    ]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    if sys.prefix != sys.base_prefix:
        env.setdefault("VIRTUAL_ENV", sys.prefix)
    return env


def run(args: argparse.Namespace) -> int:
    """Write the plugin, then start PySide6's Designer with it."""
    plugin_dir = (
        Path(tempfile.gettempdir())
        / f"hmi-designer-plugins-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    )
    env = designer_environment(plugin_dir)
    if args.print_env:
        for key in ("PYSIDE_DESIGNER_PLUGINS", "PYTHONPATH", "VIRTUAL_ENV"):
            print(f"{key}={env.get(key, '')}")
        return 0
    # pyside6-designer's own launcher sets LD_PRELOAD etc. for the embedded Python.
    launcher = "from PySide6.scripts.pyside_tool import designer; designer()"
    files = [str(path) for path in args.files]
    try:
        return subprocess.call([sys.executable, "-c", launcher, *files], env=env)
    except KeyboardInterrupt:
        return 130
