"""The register map of a simulated plant, and how values become registers and back.

One table (:data:`POINTS`) is the single source of truth: the server serves it,
docs/simulated-plant.md documents it (a test checks they agree) and examples/demo-plant.yaml
binds tags to it. Floats are IEEE 754 float32 in two registers, high word first (big-endian
word and byte order); scaled integers hold ``round(value * scale)``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from hmi.core.address import ModbusAddress, Table
from hmi.core.tag import DataType

Value = float | bool


@dataclass(frozen=True, slots=True)
class Point:
    """One entry of the register map."""

    address: ModbusAddress
    data_type: DataType
    signal: str
    unit: str
    description: str
    #: raw = round(value * scale) for integer types
    scale: float = 1.0
    #: the tag of examples/demo-plant.yaml on this address, if any
    tag: str = ""

    @property
    def writable(self) -> bool:
        """True for coils and holding registers."""
        return self.address.table.writable

    @property
    def count(self) -> int:
        """Registers (or bits) the point occupies."""
        return 1 if self.data_type is DataType.BOOL else self.data_type.register_count


def _p(
    address: str,
    data_type: str,
    signal: str,
    unit: str,
    description: str,
    *,
    scale: float = 1.0,
    tag: str = "",
) -> Point:
    return Point(
        ModbusAddress.parse(address), DataType(data_type), signal, unit, description, scale, tag
    )


F, U16, I16, U32, B = "float32", "uint16", "int16", "uint32", "bool"

#: every point of one plant (one Modbus unit)
POINTS: tuple[Point, ...] = (
    # -- measurements, float32 --------------------------------------------------------------
    _p("ir:0", F, "level", "m", "T-101 level", tag="area1/t101/level"),
    _p("ir:2", F, "valve_position", "%", "FV-101 position", tag="area1/fv101/position"),
    _p("ir:4", F, "inflow", "m³/h", "FT-101 inlet flow", tag="area1/ft101/flow"),
    _p("ir:6", F, "outflow", "m³/h", "FT-102 outlet flow", tag="area1/ft102/flow"),
    _p("ir:8", F, "temperature", "°C", "T-101 temperature", tag="area1/t101/temperature"),
    _p("ir:10", F, "heater_power", "kW", "E-101 power", tag="area1/e101/power"),
    _p("ir:12", F, "lic_output", "%", "LIC-101 output", tag="area1/lic101/output"),
    # -- the same measurements as scaled 16-bit integers --------------------------------------
    _p("ir:20", U16, "level", "m", "T-101 level in mm", scale=1000),
    _p("ir:21", U16, "valve_position", "%", "FV-101 position in 0.01 %", scale=100),
    _p("ir:22", U16, "inflow", "m³/h", "FT-101 inlet flow in 0.01 m³/h", scale=100),
    _p("ir:23", U16, "outflow", "m³/h", "FT-102 outlet flow in 0.01 m³/h", scale=100),
    _p("ir:24", I16, "temperature", "°C", "T-101 temperature in 0.1 °C", scale=10),
    _p("ir:25", U16, "heater_power", "kW", "E-101 power in 0.1 kW", scale=10),
    _p("ir:26", U16, "lic_output", "%", "LIC-101 output in 0.01 %", scale=100),
    _p("ir:30", U16, "heartbeat", "", "PLC heartbeat: scans mod 65536", tag="area1/plc1/heartbeat"),
    _p("ir:31", U32, "uptime", "s", "simulated seconds since start", tag="area1/plc1/uptime"),
    # -- states -------------------------------------------------------------------------------
    _p("di:0", B, "pump_running", "", "P-101 running", tag="area1/p101/running"),
    _p("di:1", B, "pump_tripped", "", "P-101 tripped (latched)", tag="area1/p101/tripped"),
    _p("di:2", B, "heater_on", "", "E-101 energised", tag="area1/e101/on"),
    _p("di:3", B, "level_ll", "", "LSLL-101 level low-low (< 0.3 m)", tag="area1/t101/level_ll"),
    _p("di:4", B, "level_hh", "", "LSHH-101 level high-high (> 4.6 m)", tag="area1/t101/level_hh"),
    _p("di:5", B, "heater_interlock", "", "E-101 off: level < 1.0 m", tag="area1/e101/interlock"),
    _p("di:6", B, "inlet_interlock", "", "FV-101 held closed by LSHH", tag="area1/fv101/interlock"),
    _p(
        "di:7",
        B,
        "valve_deviation",
        "",
        "FV-101 off its command > 5 % for > 30 s",
        tag="area1/fv101/deviation",
    ),
    # -- commands -----------------------------------------------------------------------------
    _p("co:0", B, "pump_run", "", "P-101 run command (1 run, 0 stop)", tag="area1/p101/start"),
    _p(
        "co:1",
        B,
        "pump_reset",
        "",
        "P-101 trip reset (pulse, PLC clears it)",
        tag="area1/p101/reset",
    ),
    _p("co:2", B, "heater_enable", "", "E-101 enable", tag="area1/e101/enable"),
    _p("co:3", B, "lic_auto", "", "LIC-101 auto (1) / manual (0)", tag="area1/lic101/auto"),
    _p("hr:0", F, "level_sp", "m", "LIC-101 setpoint", tag="area1/lic101/sp"),
    _p(
        "hr:2",
        F,
        "valve_command",
        "%",
        "FV-101 command (manual; LIC-101 writes it in auto)",
        tag="area1/fv101/command",
    ),
    _p("hr:4", F, "heater_command", "%", "E-101 power command", tag="area1/e101/power_cmd"),
    _p("hr:6", F, "kp", "%/m", "LIC-101 gain", tag="area1/lic101/kp"),
    _p("hr:8", F, "ti", "s", "LIC-101 integral time (0 = none)", tag="area1/lic101/ti"),
    _p("hr:10", F, "outlet_valve", "%", "HV-102 opening (outlet flow)", tag="area1/hv102/opening"),
    _p("hr:20", U16, "level_sp", "m", "LIC-101 setpoint in mm", scale=1000),
    _p("hr:21", U16, "valve_command", "%", "FV-101 command in 0.01 %", scale=100),
    _p("hr:22", U16, "heater_command", "%", "E-101 power command in 0.01 %", scale=100),
    _p("hr:23", U16, "outlet_valve", "%", "HV-102 opening in 0.01 %", scale=100),
    # -- fault control block --------------------------------------------------------------------
    _p(
        "hr:100",
        U16,
        "fault.comm_loss",
        "s",
        "comm loss: write N = stop answering for N s; reads remaining s",
    ),
    _p("hr:101", U16, "fault.delay", "s", "answer every request N ms late (0 = off)", scale=1000),
    _p("hr:102", U16, "fault.exception", "", "answer with exception code N (0 = off)"),
    _p("hr:103", U16, "fault.frozen", "", "frozen sensors, bit mask (see below)"),
    _p("hr:104", U16, "fault.noisy", "", "noisy sensors, bit mask (see below)"),
    _p(
        "hr:105",
        U16,
        "fault.noise_amplitude",
        "",
        "noise amplitude in 0.01 % of span (the value: a fraction of the span)",
        scale=10000,
    ),
    _p("hr:106", U16, "fault.stuck_valve", "", "1 = FV-101 stuck"),
    _p("hr:107", U16, "fault.pump_trip", "", "write 1 = trip P-101 (reads 0)"),
    _p("hr:108", U16, "fault.alarm_flood", "", "1 = alarm flood"),
    _p("hr:109", U16, "fault.clear", "", "write 1 = clear every fault (reads 0)"),
)

#: the control block: a plant answers requests touching only these even under an
#: exception-code fault, so a master can always switch faults off
CONTROL_BLOCK = range(100, 110)

#: size of each table of the image; reads past it answer "illegal data address"
TABLE_SIZE = {
    Table.COIL: 16,
    Table.DISCRETE_INPUT: 16,
    Table.INPUT_REGISTER: 40,
    Table.HOLDING_REGISTER: 110,
}


def by_tag() -> dict[str, Point]:
    """Points that carry a demo-plant tag, by tag name."""
    return {p.tag: p for p in POINTS if p.tag}


def encode(point: Point, value: Value) -> list[int]:
    """Registers (or one bit as 0/1) holding ``value`` for ``point``."""
    dt = point.data_type
    if dt is DataType.BOOL:
        return [int(bool(value))]
    if dt is DataType.FLOAT32:
        high, low = struct.unpack(">HH", struct.pack(">f", float(value)))
        return [high, low]
    raw = round(float(value) * point.scale)
    if dt is DataType.INT16:
        return [min(max(raw, -32768), 32767) & 0xFFFF]
    if dt is DataType.UINT16:
        return [min(max(raw, 0), 0xFFFF)]
    if dt is DataType.UINT32:
        raw = min(max(raw, 0), 0xFFFFFFFF)
        return [raw >> 16, raw & 0xFFFF]
    raise ValueError(f"unsupported type {dt} in the register map")


def decode(point: Point, words: list[int]) -> Value:
    """The engineering value of ``point`` from its registers (or bit)."""
    dt = point.data_type
    if dt is DataType.BOOL:
        return bool(words[0])
    if dt is DataType.FLOAT32:
        value: float = struct.unpack(">f", struct.pack(">HH", words[0], words[1]))[0]
        return value
    if dt is DataType.INT16:
        raw = words[0] - 0x10000 if words[0] & 0x8000 else words[0]
    elif dt is DataType.UINT16:
        raw = words[0]
    elif dt is DataType.UINT32:
        raw = (words[0] << 16) | words[1]
    else:
        raise ValueError(f"unsupported type {dt} in the register map")
    return raw / point.scale
