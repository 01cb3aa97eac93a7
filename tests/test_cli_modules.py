"""``hmi COMMAND`` imports only the module of its command; help still lists them all."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import subprocess
import sys

import hmi.commands
from hmi.cli import build_parser


def registered() -> dict[str, str]:
    """Each sub-command and the module that registers it, by asking every module."""
    found: dict[str, str] = {}
    for info in pkgutil.iter_modules(hmi.commands.__path__):
        commands = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(f"hmi.commands.{info.name}").register(commands)
        for name in commands.choices:
            found[name] = info.name
    return found


def test_the_table_of_commands_names_the_module_of_each():
    assert dict(hmi.commands.MODULES) == registered()


def test_a_command_imports_its_module_alone():
    code = (
        "import sys\n"
        "from hmi.cli import build_parser, _command_of\n"
        "build_parser(_command_of(['-v', 'check', 'plant.yaml']))\n"
        "print(sorted(m for m in sys.modules if m.startswith('hmi.commands.')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['hmi.commands.check']"


def test_help_lists_every_command():
    text = build_parser().format_help()
    for name in hmi.commands.MODULES:
        assert name in text
    assert build_parser("no-such-command").format_help() == text
