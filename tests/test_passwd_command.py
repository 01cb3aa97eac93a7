"""``hmi passwd PROJECT USER`` run as a process: input that ends (Ctrl-D, a pipe), Ctrl-C,
and a user or file it cannot edit, each one line and an exit status, the file unchanged.

Ctrl-D at the prompt ended in an ``EOFError`` traceback, and an unknown user was reported
only after the password had been asked twice. (Setting a password through
``--password-stdin``: tests/project/test_edit.py.)
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hmi.core.passwords import verify_password
from hmi.project import load_project

pytestmark = pytest.mark.timeout(60)

EXAMPLE = Path(__file__).parents[1] / "examples" / "small-plant.yaml"
#: the installed ``hmi`` of this interpreter's environment (.venv/bin/hmi)
HMI = shutil.which("hmi", path=str(Path(sys.executable).parent))
COMMAND = [HMI] if HMI else [sys.executable, "-m", "hmi"]
PROMPT = b"New password for operator: "
NOTHING = "hmi passwd: no password given; nothing changed"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "plant.yaml"
    path.write_text(EXAMPLE.read_text())
    return path


def passwd(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``hmi passwd ARGS`` with ``stdin`` piped in, then closed.

    In a new session the process has no controlling terminal, so getpass cannot open
    /dev/tty (which would wait for someone at the terminal running the tests) and reads
    the pipe instead, as it does under a service manager or over ssh without a tty."""
    return subprocess.run(
        [*COMMAND, "passwd", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
        start_new_session=True,
    )


def last_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    return result.stderr.rstrip("\n").splitlines()[-1]


@pytest.mark.parametrize(
    ("stdin", "options"),
    [
        pytest.param("", (), id="ctrl-d-at-the-first-prompt"),
        pytest.param("s3cret-pass\n", (), id="input-ends-before-the-second"),
        pytest.param("", ("--password-stdin",), id="password-stdin-empty"),
    ],
)
def test_input_that_ends_changes_nothing(
    project: Path, stdin: str, options: tuple[str, ...]
) -> None:
    before = project.read_bytes()
    result = passwd(str(project), "operator", *options, stdin=stdin)
    assert (result.returncode, last_line(result)) == (1, NOTHING)
    assert project.read_bytes() == before


def test_an_unknown_user_is_refused_before_the_password_is_asked(project: Path) -> None:
    before = project.read_bytes()
    result = passwd(str(project), "nosuchuser", stdin="s3cret-pass\ns3cret-pass\n")
    assert result.returncode == 1
    assert result.stderr == f"{project}: no user 'nosuchuser' in the users section\n"
    assert project.read_bytes() == before


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "cannot read: No such file or directory"),
        ("name: p\n", "no user 'operator' in the users section"),
        ("name: p\nusers: {operator: x}\n", "no user 'operator' in the users section"),
        ("users: [\n", "cannot edit it:"),
    ],
)
def test_a_file_it_cannot_edit_is_refused_before_asking(
    tmp_path: Path, text: str | None, message: str
) -> None:
    path = tmp_path / "plant.yaml"
    if text is not None:
        path.write_text(text)
    result = passwd(str(path), "operator", stdin="s3cret-pass\ns3cret-pass\n")
    assert result.returncode == 1
    assert result.stderr.startswith(f"{path}: {message}"), result.stderr
    assert "New password" not in result.stderr  # not asked
    assert (path.read_text() if text is not None else None) == text


def test_ctrl_c_at_the_prompt_changes_nothing(project: Path) -> None:
    before = project.read_bytes()
    with subprocess.Popen(
        [*COMMAND, "passwd", str(project), "operator"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    ) as process:
        assert process.stdin is not None and process.stderr is not None
        try:
            shown = _read_until(process.stderr.fileno(), PROMPT, deadline=time.monotonic() + 30)
            process.send_signal(signal.SIGINT)  # what Ctrl-C sends, while it waits
            rest = process.communicate(timeout=30)[1]
        finally:
            process.kill()
    stderr = (shown + rest).decode()
    assert "Traceback" not in stderr, stderr
    assert stderr.splitlines()[-1] == "hmi passwd: interrupted; nothing changed"
    assert process.returncode == 130
    assert project.read_bytes() == before


def test_the_password_typed_twice_is_set(project: Path) -> None:
    """The check before asking leaves the prompts as they were."""
    result = passwd(str(project), "operator", stdin="s3cret-pass\ns3cret-pass\n")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert verify_password("s3cret-pass", load_project(project).users["operator"].password_hash)


def _read_until(fd: int, wanted: bytes, deadline: float) -> bytes:
    """What ``fd`` gives until it has shown ``wanted`` (a prompt ends in no newline)."""
    seen = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while wanted not in seen:
            left = deadline - time.monotonic()
            assert left > 0, f"no prompt after 30 s: {seen!r}"
            if selector.select(left):
                chunk = os.read(fd, 4096)
                assert chunk, f"ended before the prompt: {seen!r}"
                seen += chunk
    return seen
