"""``hmi designer [screen.ui]``: Qt Designer (from PySide6) with the HMI widgets registered."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
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
        "--project",
        type=Path,
        metavar="PROJECT.yaml",
        help="preview widgets with this project's tags (units, formats, ranges; unknown "
        "tags marked) and offer its tag names: right click a widget, Choose tag ...",
    )
    cmd.add_argument(
        "--print-env",
        action="store_true",
        help="print the environment Designer would get, and exit (for scripts and tests)",
    )
    cmd.set_defaults(handler=run)


def designer_environment(plugin_dir: Path, project: Path | None = None) -> dict[str, str]:
    """The environment for Designer: our plugin folder, ``hmi`` importable in it, and the
    project to preview (``HMI_PROJECT``)."""
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
    if project is not None:
        from hmi.qt.designer_preview import PROJECT_ENV

        env[PROJECT_ENV] = str(project.resolve())
    return env


def run(args: argparse.Namespace) -> int:
    """Write the plugin, then start PySide6's Designer with it."""
    plugin_dir = (
        Path(tempfile.gettempdir())
        / f"hmi-designer-plugins-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    )
    project = getattr(args, "project", None)
    if project is not None and not project.is_file():
        print(f"hmi designer: --project: no such file: {project}", file=sys.stderr)
        return 2
    env = designer_environment(plugin_dir, project)
    if args.print_env:
        for key in ("PYSIDE_DESIGNER_PLUGINS", "PYTHONPATH", "VIRTUAL_ENV", "HMI_PROJECT"):
            print(f"{key}={env.get(key, '')}")
        return 0
    # pyside6-designer's own launcher sets LD_PRELOAD etc. for the embedded Python.
    launcher = "from PySide6.scripts.pyside_tool import designer; designer()"
    files = [str(path) for path in args.files]
    return run_child([sys.executable, "-c", launcher, *files], env)


#: signals that stop `hmi designer`, and with it Designer (systemd, a terminal, a launcher)
_STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGINT") if hasattr(signal, name)
)


def run_child(command: list[str], env: dict[str, str]) -> int:
    """Run ``command`` until it exits; a stop signal to us stops it too (never an orphan).

    PySide6's launcher starts Designer as a process of its own, so the launcher runs in a
    new process group: a signal we receive (SIGTERM from systemd or a launcher, SIGHUP from
    a closed terminal, Ctrl-C) goes to the whole group, and we wait for it to end. Exit
    status: Designer's, 0 after SIGTERM or SIGHUP, 130 after Ctrl-C.
    """
    group = hasattr(os, "killpg")  # POSIX; elsewhere the launcher alone is told
    child = subprocess.Popen(command, env=env, start_new_session=group)
    received: list[int] = []

    def forward(signum: int, frame: object) -> None:
        received.append(signum)
        _stop(child, group, signal.SIGTERM)

    previous = {signum: signal.signal(signum, forward) for signum in _STOP_SIGNALS}
    try:
        while True:
            try:
                code = child.wait(timeout=_STOP_GRACE if received else None)
                break
            except subprocess.TimeoutExpired:
                # Asked to stop and still there (a dialog about unsaved changes): end it.
                _stop(child, group, getattr(signal, "SIGKILL", signal.SIGTERM))
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        # Designer outlives its launcher if the launcher died first: never leave it behind.
        _stop(child, group, signal.SIGTERM)
    if received:
        return 130 if received[0] == signal.SIGINT else 0
    return code


#: seconds Designer gets to close after being asked to
_STOP_GRACE = 10.0


def _stop(child: subprocess.Popen[bytes], group: bool, signum: int) -> None:
    """Send ``signum`` to the child's process group (or to the child alone)."""
    with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
        if group:
            os.killpg(child.pid, signum)
        elif child.poll() is None:
            child.send_signal(signum)
