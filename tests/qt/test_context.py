"""The write path: roles, the sink, results back to the widget, timeouts."""

from __future__ import annotations

from hmi.core import CommandResult, CommandState, Sample
from hmi.qt.context import HmiContext, RecordingSink, loopback_sink
from tests.widgets.support import demo_store


def test_denied_write_sends_nothing_and_says_why(qapp):
    sink = RecordingSink()
    context = HmiContext(demo_store(), user="guest", roles=frozenset({"viewer"}), sink=sink)
    results = []
    assert context.send("area1/p101/start", True, on_result=results.append) is None
    assert sink.commands == []
    assert results[0].state is CommandState.REJECTED
    assert "needs role" in results[0].message
    assert "read-only" in context.write_denied("area1/t101/level")


def test_command_carries_who_and_result_reaches_the_sender(qapp):
    store = demo_store()
    store.update("area1/lic101/sp", Sample(2.5))
    sink = RecordingSink()
    context = HmiContext(store, user="op", roles=frozenset({"operator"}), node="hmi1", sink=sink)
    results = []
    command = context.send("area1/lic101/sp", 3.0, screen="pid", on_result=results.append)
    assert command is not None and sink.commands == [command]
    assert (command.user, command.old_value, command.screen, command.node) == (
        "op",
        2.5,
        "pid",
        "hmi1",
    )
    assert context.pending == 1
    context.deliver(CommandResult(command.id, command.tag, CommandState.CONFIRMED, 3.0))
    assert [r.state for r in results] == [CommandState.CONFIRMED]
    assert context.pending == 0


def test_unanswered_command_times_out(qtbot):
    context = HmiContext(demo_store(), roles=frozenset({"operator"}), timeout=0.05)
    results = []
    context.send("area1/p101/start", True, on_result=results.append)
    qtbot.waitUntil(lambda: bool(results), timeout=2000)
    assert results[0].state is CommandState.TIMED_OUT


def test_loopback_sink_writes_the_store_and_confirms(qtbot):
    store = demo_store()
    context = HmiContext(store, roles=frozenset({"operator"}))
    context.sink = loopback_sink(context)
    results = []
    context.send("area1/p101/start", True, on_result=results.append)
    qtbot.waitUntil(lambda: bool(results))
    assert results[0].state is CommandState.CONFIRMED
    assert store.get("area1/p101/start").value is True
