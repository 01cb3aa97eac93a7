"""A device the loader refuses is reported once, by its own errors: its tags are not tags of
an unknown device, and their addresses are read by its protocol (not as Modbus ones)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hmi.project import ProjectError, load_project
from hmi.project.protocols import known_protocols

POLICIES = "Basic256Sha256, Aes128Sha256RsaOaep, Aes256Sha256RsaPss"

#: a valid OPC UA device (examples/opcua-line.yaml) made wrong by its policy; three tags
OPCUA = """\
name: p
builtin_screens: false
devices:
  - name: plc2
    protocol: opcua
    endpoint: opc.tcp://127.0.0.1:4840/UA/hmi
    security: sign-and-encrypt
    policy: Basic128Rsa15
    certificate: keys/hmi-opcua.der
    private_key: keys/hmi-opcua.pem
tags:
  - name: area2/plc2/temperature
    type: float64
    device: plc2
    address: "ns=1;s=Temperature"
    poll_group: fast
    sampling_interval: 0.05
  - {name: area2/plc2/counter, type: uint32, device: plc2, address: "ns=1;s=Counter"}
  - {name: area2/plc2/level, type: float32, device: plc2, address: "ns=1;s=Level", queue_size: 1}
"""

POLICY_ERROR = f"p.yaml:8: devices[0].policy: expected one of {POLICIES}, found 'Basic128Rsa15'"
PASSWORD_ERROR = (
    "p.yaml:8: devices[0].password: a password is never written in the project file: name a "
    "file holding it (password_file) or an environment variable (password_env)"
)

#: a Modbus RTU unit without its serial port, and a TCP device with a wrong port
MODBUS = """\
name: p
builtin_screens: false
devices:
  - name: rtu1
    protocol: modbus-rtu
    unit_id: 3
  - name: plc1
    port: five
tags:
  - {name: a/rtu1/x, device: rtu1, address: "hr:1", type: uint16}
  - {name: a/rtu1/y, device: rtu1, address: "co:7", type: bool, byte_order: little}
  - {name: a/plc1/x, device: plc1, address: "ir:1", type: float32}
"""

MODBUS_ERRORS = [
    "p.yaml:4: devices[0].serial_port: modbus-rtu needs a serial_port",
    "p.yaml:8: devices[1].port: expected an integer, found str 'five'",
]


def errors_of(text: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent(text))
    with pytest.raises(ProjectError) as info:
        load_project(path)
    return [str(e).replace(str(path), "p.yaml") for e in info.value.errors]


def test_a_refused_opcua_device_is_one_error_not_one_per_tag(tmp_path):
    assert errors_of(OPCUA, tmp_path) == [POLICY_ERROR]


def test_a_password_in_the_file_is_one_error(tmp_path):
    text = OPCUA.replace("    policy: Basic128Rsa15\n", "    password: secret\n")
    assert errors_of(text, tmp_path) == [PASSWORD_ERROR]


def test_tags_of_a_refused_opcua_device_are_still_read_as_opcua(tmp_path):
    """Every error at once: a wrong node id or OPC UA tag field is still found, in OPC UA
    words, and so is a wrong field every tag has."""
    text = OPCUA.replace('"ns=1;s=Counter"', '"hr:1"').replace(
        "poll_group: fast", "poll_group: fastest"
    )
    text = text.replace("queue_size: 1", "queue_size: 0, byte_order: big")
    assert errors_of(text, tmp_path) == [
        POLICY_ERROR,
        "p.yaml:16: tags[0].poll_group: unknown poll group 'fastest' (known: fast, normal, slow)",
        "p.yaml:18: tags[1].address: malformed node id 'hr:1': expected [ns=N;]i=NUMBER, "
        "s=TEXT, g=GUID or b=BASE64 (hmi opcua browse lists them)",
        "p.yaml:19: tags[2].byte_order: unknown field",
        "p.yaml:19: tags[2].queue_size: expected an integer in 1..10000, found 0",
    ]


def test_refused_modbus_devices_are_their_own_errors_only(tmp_path):
    assert errors_of(MODBUS, tmp_path) == MODBUS_ERRORS


def test_tags_of_a_refused_modbus_device_are_still_read_as_modbus(tmp_path):
    text = MODBUS.replace('"hr:1"', '"ns=1;s=X"').replace('"ir:1"', '"ir:1.3"')
    assert errors_of(text, tmp_path) == [
        *MODBUS_ERRORS,
        "p.yaml:10: tags[0].address: malformed address 'ns=1;s=X': expected TABLE:OFFSET[.BIT] "
        "with TABLE one of hr, ir, co, di (e.g. hr:100 or hr:100.3)",
        "p.yaml:12: tags[2].address: type float32 does not fit ir:1.3: coils, discrete inputs "
        "and register bits are bool",
    ]


def test_tags_of_a_device_of_an_unknown_protocol_are_not_checked(tmp_path):
    """Neither its fields nor its tags' are known: only the protocol is reported."""
    text = (
        "name: p\nbuiltin_screens: false\ndevices:\n  - name: pn1\n    protocol: profinet\n"
        "tags:\n  - {name: a/pn1/x, device: pn1, address: 'slot 3', type: uint16, slot: 3}\n"
    )
    assert errors_of(text, tmp_path) == [
        f"p.yaml:5: devices[0].protocol: unknown protocol 'profinet' (known: "
        f"{', '.join(known_protocols())})"
    ]


def test_a_device_that_is_not_defined_is_still_unknown(tmp_path):
    text = OPCUA + '  - {name: area2/plc9/x, type: uint16, device: plc9, address: "hr:1"}\n'
    assert errors_of(text, tmp_path) == [
        POLICY_ERROR,
        "p.yaml:20: tags[3].device: unknown device 'plc9' (known: plc2)",
    ]
    # as before: the address of a tag of an unknown device is read as Modbus
    text = MODBUS.replace("device: plc1", "device: plc3").replace("    port: five\n", "")
    assert errors_of(text, tmp_path) == [
        MODBUS_ERRORS[0],
        "p.yaml:11: tags[2].device: unknown device 'plc3' (known: plc1, rtu1)",
    ]
    # a device without a name cannot be named by a tag
    text = MODBUS.replace("  - name: plc1\n    port: five\n", "  - port: 502\n")
    assert errors_of(text, tmp_path) == [
        MODBUS_ERRORS[0],
        "p.yaml:7: devices[1].name: missing required field",
        "p.yaml:11: tags[2].device: unknown device 'plc1' (known: rtu1)",
    ]


def test_a_valid_device_is_not_mistaken_for_a_refused_one_of_its_name(tmp_path):
    """A refused device that repeats a valid one's name: the tags are the valid one's."""
    text = MODBUS.replace("  - name: rtu1\n", "  - name: plc1\n").replace(
        "    port: five\n", "    port: 5020\n"
    )
    text = text.replace("device: rtu1", "device: plc1")
    assert errors_of(text, tmp_path) == [MODBUS_ERRORS[0]]


def _hmi() -> list[str]:
    script = Path(sys.executable).with_name("hmi")
    return [str(script)] if script.exists() else [sys.executable, "-m", "hmi"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (OPCUA, [POLICY_ERROR]),
        (OPCUA.replace("    policy: Basic128Rsa15\n", "    password: x\n"), [PASSWORD_ERROR]),
        (MODBUS, MODBUS_ERRORS),
    ],
    ids=["opcua-policy", "opcua-password", "modbus"],
)
def test_hmi_check_reports_only_the_devices_errors(tmp_path, text, expected):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    done = subprocess.run(
        [*_hmi(), "check", str(path)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output
    lines = [line.replace(str(path), "p.yaml") for line in output.splitlines()]
    problems = [line for line in lines if line.startswith("p.yaml:")]
    assert problems == expected, output
