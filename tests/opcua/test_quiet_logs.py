"""asyncua's traceback for a connection closed under its publish loop is not logged: the
line reports the loss itself, with the device's name (docs/drivers.md, OPC UA)."""

from __future__ import annotations

import asyncio
import logging
import sys

import pytest

from hmi.drivers.opcua.security import open_client
from hmi.drivers.opcua.settings import OpcUaSettings

SESSION_LOG = "asyncua.client.ua_session.UaSession"


def record(exc: BaseException) -> logging.LogRecord:
    try:
        raise exc
    except BaseException:
        info = sys.exc_info()
    return logging.LogRecord(
        SESSION_LOG,
        logging.ERROR,
        __file__,
        1,
        "Publish iteration crashed; retrying in 1s",
        None,
        info,
    )


@pytest.mark.timeout(30)
def test_a_closed_connection_is_not_logged_by_asyncua_other_errors_are() -> None:
    asyncio.run(open_client(OpcUaSettings("opc.tcp://127.0.0.1:4840"), "plc2", 1.0))
    session_log = logging.getLogger(SESSION_LOG)
    assert not session_log.filter(record(ConnectionError("Connection is closed")))
    assert not session_log.filter(record(BrokenPipeError()))
    assert session_log.filter(record(ValueError("something else")))  # still logged
    asyncio.run(open_client(OpcUaSettings("opc.tcp://127.0.0.1:4840"), "plc3", 1.0))
    assert len(session_log.filters) == 1  # once, whatever the number of lines
