"""Launch files are validated like project files: every error as file:line: field: message."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from hmi.cli import main
from hmi.launch.launchfile import Backoff, LaunchError, load_launch, parse_launch

EXAMPLES = Path(__file__).parents[2] / "examples"


def write(tmp_path, text, name="plant.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def errors_of(tmp_path, text, environ=None):
    path = write(tmp_path, text)
    with pytest.raises(LaunchError) as caught:
        load_launch(path, environ=environ or {"PATH": "/usr/bin:/bin"})
    assert all(e.file == str(path) for e in caught.value.errors)
    return [str(e).removeprefix(f"{path}:") for e in caught.value.errors]  # line: field: ...


NODE = "nodes:\n  - name: a\n    cmd: [python, -c, pass]\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (NODE + "    colour: red\n", "4: nodes[0].colour: unknown field"),
        (
            NODE + "    restrat: false\n",
            "4: nodes[0].restrat: unknown field (did you mean 'restart'?)",
        ),
        (
            NODE + "    restart: maybe\n",
            "4: nodes[0].restart: expected true or false, found str 'maybe'",
        ),
        (NODE + "    required: 1\n", "4: nodes[0].required: expected true or false, found int 1"),
        (NODE + "    delay: -1\n", "4: nodes[0].delay: must not be negative"),
        (NODE + "    delay: soon\n", "4: nodes[0].delay: expected a number, found str 'soon'"),
        (NODE + "    stop_timeout: -0.5\n", "4: nodes[0].stop_timeout: must not be negative"),
        (NODE + "    stop_signal: SIGNOPE\n", "4: nodes[0].stop_signal: no signal 'SIGNOPE'"),
        (NODE + "    cwd: nowhere\n", "4: nodes[0].cwd: no such directory: {tmp}/nowhere"),
        (NODE + "    env: [A, B]\n", "4: nodes[0].env: expected a mapping, found a list"),
        (NODE + "    env: {FLAG: true}\n", "4: nodes[0].env.FLAG: expected text, found bool True"),
        (NODE + "    env: {1X: a}\n", "4: nodes[0].env.1X: not a variable name"),
        (
            NODE + "    env:\n      B: ${UNSET_VAR}/x\n",
            "5: nodes[0].env.B: ${UNSET_VAR} is not set",
        ),
        (
            NODE + "    backoff: {initial: -2}\n",
            "4: nodes[0].backoff.initial: must not be negative",
        ),
        ("backoff:\n  initial: -1\n" + NODE, "2: backoff.initial: must not be negative"),
        ("backoff:\n  give_up_after: -1\n" + NODE, "2: backoff.give_up_after: must be 0 or more"),
        (
            "backoff:\n  give_up_after: 2.5\n" + NODE,
            "2: backoff.give_up_after: expected an integer",
        ),
        ("backoff:\n  initial: 5\n  max: 1\n" + NODE, "3: backoff.max: below initial (5)"),
        ("backoff: {jitter: 1}\n" + NODE, "1: backoff.jitter: unknown field"),
        ("stop_timeout: -1\n" + NODE, "1: stop_timeout: must not be negative"),
        ("nodez: []\n", "1: nodes: missing required field"),
        ("nodes: 3\n", "1: nodes: expected a list, found int 3"),
        ("nodes: []\n", "1: nodes: no nodes to launch"),
        ("nodes:\n  - just text\n", "2: nodes[0]: expected a mapping, found str 'just text'"),
        ("nodes:\n  - name: a\n", "2: nodes[0].cmd: missing required field"),
        ("nodes:\n  - cmd: [python]\n", "2: nodes[0].name: missing required field"),
        ("nodes:\n  - {name: 'a b', cmd: [python]}\n", "2: nodes[0].name: letters, digits"),
        ("nodes:\n  - {name: a, cmd: []}\n", "2: nodes[0].cmd: empty command"),
        ("nodes:\n  - {name: a, cmd: 'python -c \"x'}\n", "2: nodes[0].cmd: No closing quotation"),
        ("nodes:\n  - {name: a, cmd: [python, {x: 1}]}\n", "2: nodes[0].cmd[1]: expected text"),
        ("nodes:\n  - {name: a, cmd: no-such-program-xyz}\n", "2: nodes[0].cmd: program"),
        ("nodes:\n  - {name: a, cmd: ./no-such-script}\n", "2: nodes[0].cmd: no program"),
        (NODE + "  - name: a\n    cmd: [python]\n", "4: nodes[1].name: duplicate 'a' (line 2)"),
        # (libyaml's words; the pure-Python parser says "expected the node content")
        ("nodes: [\n", "2: (syntax): did not find expected node content"),
    ],
)
def test_each_problem_names_file_line_and_field(tmp_path, text, expected):
    found = errors_of(tmp_path, text)
    expected = expected.replace("{tmp}", str(tmp_path))
    assert any(e.startswith(expected) for e in found), found


def test_every_error_is_reported_at_once(tmp_path):
    path = write(
        tmp_path,
        "backoff: {initial: -1}\n"
        "nodes:\n"
        "  - {name: a, cmd: [python], delay: -1}\n"
        "  - {name: a, cmd: [python], colour: red}\n",
    )
    with pytest.raises(LaunchError) as caught:
        load_launch(path)
    message = str(caught.value)
    assert message.splitlines()[0] == "4 errors in launch file"
    assert f"{path}:1: backoff.initial: must not be negative" in message
    assert f"{path}:3: nodes[0].delay: must not be negative" in message
    assert f"{path}:4: nodes[1].colour: unknown field" in message
    assert f"{path}:4: nodes[1].name: duplicate 'a' (line 3)" in message


def test_every_field_is_read(tmp_path):
    (tmp_path / "work").mkdir()
    path = write(
        tmp_path,
        "backoff: {initial: 0.25, max: 4, stable: 3, give_up_after: 7}\n"
        "stop_timeout: 2\n"
        "nodes:\n"
        "  - name: broker\n"
        "    cmd: [hmi, broker, --quiet]\n"
        "    required: true\n"
        "  - name: plant\n"
        "    cmd: hmi sim 'my plant.yaml' --port 5020\n"
        "    cwd: work\n"
        "    env: {HMI_BROKER: 'tcp://${BROKER_HOST}:5570', LEVEL: '${LEVEL:-info}', N: 3}\n"
        "    delay: 0.5\n"
        "    backoff: {give_up_after: 0, initial: 8}\n"
        "    stop_timeout: 9\n"
        "  - name: report.v2\n"
        "    cmd: [python, tools/report.py, 2]\n"
        "    restart: false\n"
        "    stop_signal: hup\n"
        "  - name: shell\n"
        "    cmd: sh -c 'exec sleep 1'\n",
    )
    launch = load_launch(path, environ={"BROKER_HOST": "10.0.0.1", "PATH": "/usr/bin:/bin"})
    broker, plant, report, shell = launch.nodes
    assert launch.file == str(path)
    assert broker.argv == (sys.executable, "-m", "hmi", "broker", "--quiet")
    assert broker.shown == "hmi broker --quiet"
    assert broker.hmi and broker.required and broker.restart
    assert broker.stop_signal == signal.SIGINT  # hmi commands stop cleanly on Ctrl-C
    assert broker.stop_timeout == 2.0
    assert broker.backoff == Backoff(0.25, 4.0, 3.0, 7)
    assert broker.cwd is None and broker.delay == 0.0 and broker.env == ()

    assert plant.argv[3:] == ("sim", "my plant.yaml", "--port", "5020")
    assert plant.cwd == str(tmp_path / "work")  # relative to the launch file
    assert dict(plant.env) == {"HMI_BROKER": "tcp://10.0.0.1:5570", "LEVEL": "info", "N": "3"}
    assert plant.delay == 0.5 and plant.stop_timeout == 9.0
    assert plant.backoff == Backoff(8.0, 8.0, 3.0, 0)  # the max rises to a larger initial
    assert not plant.required

    assert report.argv == (sys.executable, "tools/report.py", "2")  # relative paths as written
    assert not report.hmi and not report.restart
    assert report.stop_signal == signal.SIGHUP
    assert shell.argv == ("sh", "-c", "exec sleep 1")
    assert shell.stop_signal == signal.SIGTERM  # other programs: the service manager's stop


def test_a_node_may_be_the_python_module_and_programs_are_found_on_its_path(tmp_path):
    tool = tmp_path / "bin" / "tool"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    text = (
        "nodes:\n"
        "  - {name: a, cmd: python -m hmi check x.yaml}\n"
        f"  - {{name: b, cmd: tool, env: {{PATH: '{tool.parent}'}}}}\n"
        "  - {name: c, cmd: bin/tool, cwd: .}\n"
    )
    a, b, c = parse_launch(text, tmp_path / "l.yaml", environ={}).nodes
    assert a.hmi and a.stop_signal == signal.SIGINT
    assert b.argv == ("tool",)
    assert c.argv == ("bin/tool",) and c.cwd == str(tmp_path)


def test_examples_load():
    files = sorted(EXAMPLES.glob("launch*.yaml"))
    assert files
    for path in files:
        assert load_launch(path).nodes


def test_hmi_launch_check_lists_the_nodes_or_the_errors(tmp_path, capsys):
    good = write(tmp_path, "nodes:\n  - {name: a, cmd: [hmi, broker], required: true}\n")
    assert main(["launch", "--check", str(good)]) == 0
    out = capsys.readouterr().out
    assert "a: hmi broker (required)" in out
    assert f"{good}: OK: 1 node\n" in out

    bad = write(tmp_path, "nodes:\n  - {name: a, cmd: [python], delay: -1}\n", "bad.yaml")
    assert main(["launch", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:2: nodes[0].delay: must not be negative" in err


def test_the_documented_example_is_valid(tmp_path):
    import hmi.launch.launchfile

    doc = hmi.launch.launchfile.__doc__
    example = doc.split("::\n\n", 1)[1].split("\n\n", 1)[0]
    text = "\n".join(line.removeprefix("    ") for line in example.splitlines())
    broker, keys, plant, report = parse_launch(text, tmp_path / "plant.yaml", environ={}).nodes
    assert broker.required and plant.backoff.give_up_after == 3 and not report.restart
    assert keys.wait and keys.required and not keys.restart
    assert dict(plant.env) == {"HMI_BROKER": "tcp://127.0.0.1:5570"}


def test_a_launch_file_is_read_as_a_project_file_is(tmp_path):
    """A FIFO named as the launch file hung `hmi launch` (waiting for a writer); a missing
    file said "[Errno 2] No such file or directory: '...'"."""
    fifo = tmp_path / "plant-launch.yaml"
    os.mkfifo(fifo)
    with pytest.raises(LaunchError) as info:
        load_launch(fifo)
    assert str(info.value.errors[0]).endswith(
        "plant-launch.yaml:1: (file): cannot read: a named pipe (FIFO), not a regular file"
    )
    with pytest.raises(LaunchError) as info:
        load_launch(tmp_path / "none.yaml")
    assert str(info.value.errors[0]).endswith(
        "none.yaml:1: (file): cannot read: No such file or directory"
    )
