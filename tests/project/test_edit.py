from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hmi.core.passwords import verify_password
from hmi.project import load_project
from hmi.project.edit import EditError, set_password_hash, with_password_hash
from tests.project.bounded import bounded

EXAMPLE = Path(__file__).parents[2] / "examples" / "small-plant.yaml"

BLOCK = """\
name: P
users:
  # the shift operator
  - name: op
    roles: [operator]
  - name: eng
    roles: [engineer]
    password_hash: "scrypt$old"
  - {name: flow, roles: [viewer]}
"""


def test_adds_after_the_user_and_keeps_comments():
    out = with_password_hash(BLOCK, "op", "scrypt$new")
    assert "  # the shift operator\n" in out
    assert '    roles: [operator]\n    password_hash: "scrypt$new"\n  - name: eng' in out


def test_replaces_an_existing_hash_and_handles_flow_style():
    out = with_password_hash(BLOCK, "eng", "scrypt$new")
    assert 'password_hash: "scrypt$new"' in out and "scrypt$old" not in out
    out = with_password_hash(BLOCK, "flow", "scrypt$f")
    assert '- {name: flow, roles: [viewer], password_hash: "scrypt$f"}' in out


def test_unknown_user_is_an_error():
    with pytest.raises(EditError, match="no user 'ghost'"):
        with_password_hash(BLOCK, "ghost", "x")


def test_hmi_passwd_sets_a_verifiable_hash(tmp_path):
    project = tmp_path / "plant.yaml"
    project.write_text(EXAMPLE.read_text())
    result = subprocess.run(
        [sys.executable, "-m", "hmi", "passwd", str(project), "operator", "--password-stdin"],
        input="s3cret-pass\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    stored = load_project(project).users["operator"].password_hash
    assert verify_password("s3cret-pass", stored)
    assert not verify_password("wrong-pass", stored)
    assert "s3cret-pass" not in project.read_text()


def test_a_file_that_cannot_be_edited_is_an_edit_error_not_a_traceback(tmp_path):
    """`hmi passwd` on a FIFO blocked forever; on bad YAML it raised YamlSyntaxError."""
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    with bounded(5.0), pytest.raises(EditError, match="a named pipe"):
        set_password_hash(fifo, "op", "scrypt$x")
    with pytest.raises(EditError, match=r"cannot edit it: <project>:3: \(syntax\)"):
        with_password_hash("users:\n  - {name: [\n", "op", "scrypt$x")
