"""The project file's ``protocol:`` and the OPC UA fields: checked with file:line errors."""

from __future__ import annotations

import pytest

from hmi.core.address import ModbusAddress, ProtocolAddress
from hmi.drivers.opcua.settings import OpcUaSettings, OpcUaTagOptions
from hmi.drivers.protocol import driver_plugin
from hmi.project import ProjectError, parse_project
from hmi.project.protocols import known_protocols


def errors(text: str, path: str = "plant.yaml") -> list[str]:
    with pytest.raises(ProjectError) as caught:
        parse_project(text, path)
    return [str(e) for e in caught.value.errors]


GOOD = """\
name: p
devices:
  - name: plc1
    port: 5020
  - name: plc2
    protocol: opcua
    endpoint: opc.tcp://10.0.0.7:4840/UA/line1
    user: hmi
    password_env: PLC2_PASSWORD
tags:
  - {name: a/plc1/x, device: plc1, address: "hr:1", type: uint16}
  - name: a/plc2/temp
    device: plc2
    address: "ns=2;s=Line1.Temperature"
    type: float32
    poll_group: fast
    deadband: 0.5
    sampling_interval: 0.05
"""


def test_a_project_with_modbus_and_opcua_devices() -> None:
    project = parse_project(GOOD, "plant.yaml")
    plc1, plc2 = project.devices["plc1"], project.devices["plc2"]
    assert plc1.protocol == "modbus-tcp" and plc1.settings is None  # the default, as before
    assert plc2.protocol == "opcua"
    assert plc2.settings == OpcUaSettings(
        endpoint="opc.tcp://10.0.0.7:4840/UA/line1", user="hmi", password_env="PLC2_PASSWORD"
    )
    assert plc2.timeout == 5.0  # the request timeout, not Modbus' 0.5 s
    source = project.tags["a/plc2/temp"].source
    assert source is not None
    assert source.address == ProtocolAddress(
        "opcua", "ns=2;s=Line1.Temperature", OpcUaTagOptions(sampling_interval=0.05)
    )
    assert source.deadband == 0.5
    assert isinstance(project.tags["a/plc1/x"].source.address, ModbusAddress)  # type: ignore[union-attr]


def test_an_unknown_protocol_is_refused_with_the_known_ones() -> None:
    text = "name: p\ndevices:\n  - name: d\n    protocol: profinet\n"
    [message] = errors(text)
    known = ", ".join(known_protocols())
    assert (
        message
        == f"plant.yaml:4: devices[0].protocol: unknown protocol 'profinet' (known: {known})"
    )
    assert {"modbus-tcp", "modbus-rtu", "opcua"} <= set(known_protocols())


def test_opcua_device_fields_are_checked_each_with_its_line() -> None:
    text = """\
name: p
devices:
  - name: d
    protocol: opcua
    endpoint: http://nope
    password: secret
    security: sign-and-encrypt
    certificate: missing.der
    host: 10.0.0.1
"""
    found = errors(text, "/nowhere/plant.yaml")
    assert (
        "/nowhere/plant.yaml:5: devices[0].endpoint: expected opc.tcp://HOST:PORT[/PATH], found 'http://nope'"
        in found
    )
    assert (
        "/nowhere/plant.yaml:6: devices[0].password: a password is never written in the project "
        "file: name a file holding it (password_file) or an environment variable (password_env)"
    ) in found
    # a key file need not exist where the project is checked (it lives on the node)
    assert not any("devices[0].certificate" in m for m in found)
    assert any(
        m.startswith(
            "/nowhere/plant.yaml:3: devices[0].private_key: security sign-and-encrypt needs"
        )
        for m in found
    ), found
    # a Modbus field on an OPC UA device is not silently ignored
    assert any(m.startswith("/nowhere/plant.yaml:9: devices[0].host: unknown field") for m in found)


def test_a_user_needs_a_password_source_and_a_password_source_needs_a_user() -> None:
    base = "name: p\ndevices:\n  - name: d\n    protocol: opcua\n    endpoint: opc.tcp://h:4840\n"
    assert errors(base + "    user: hmi\n") == [
        "plant.yaml:6: devices[0].user: a user needs password_file or password_env"
    ]
    assert errors(base + "    password_env: 'X Y'\n    user: u\n")[0].startswith(
        "plant.yaml:6: devices[0].password_env: expected an environment variable's name"
    )


def test_opcua_tag_fields_are_checked() -> None:
    head = (
        "name: p\ndevices:\n  - {name: d, protocol: opcua, endpoint: 'opc.tcp://h:4840'}\ntags:\n"
    )
    assert errors(head + "  - {name: a/d/x, device: d, address: 'hr:1'}\n") == [
        "plant.yaml:5: tags[0].address: malformed node id 'hr:1': expected [ns=N;]i=NUMBER, "
        "s=TEXT, g=GUID or b=BASE64 (hmi opcua browse lists them)"
    ]
    found = errors(
        head + "  - {name: a/d/x, device: d, address: 'i=2258', byte_order: little, "
        "deadband_type: relative}\n"
    )
    assert any("tags[0].deadband_type: expected one of absolute, percent" in m for m in found)
    assert any("tags[0].byte_order: unknown field" in m for m in found)  # Modbus only
    # and a Modbus tag still takes its own fields and refuses OPC UA ones
    modbus = "name: p\ndevices:\n  - {name: m}\ntags:\n"
    found = errors(modbus + "  - {name: a/m/x, device: m, address: 'hr:1', sampling_interval: 1}\n")
    assert found == ["plant.yaml:5: tags[0].sampling_interval: unknown field"]


def test_the_plugins_are_found_by_name() -> None:
    assert driver_plugin("opcua").name == "opcua"
    assert driver_plugin("modbus-rtu").line_key(parse_project(GOOD).devices["plc1"]) == "rtu:"


def test_a_device_round_trips_through_its_fields(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The driver actor's RPC re-validates a device from the fields the plug-in gives."""
    import yaml

    from hmi.drivers.actor import _device_dict

    (tmp_path / "pw").write_text("x\n")
    (tmp_path / "c.der").write_bytes(b"")
    (tmp_path / "k.pem").write_bytes(b"")
    text = """\
name: p
devices:
  - name: d
    protocol: opcua
    endpoint: opc.tcp://h:4840/x
    security: sign-and-encrypt
    certificate: c.der
    private_key: k.pem
    user: u
    password_file: pw
    publishing_interval: 0.2
"""
    device = parse_project(text, tmp_path / "p.yaml").devices["d"]
    again = yaml.safe_dump({"name": "rpc", "devices": [_device_dict(device)]})
    assert parse_project(again, "<rpc>").devices["d"].settings == device.settings
