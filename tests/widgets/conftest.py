"""GUI test fixtures: the ISA-101 theme for screenshots, reset after each test."""

from __future__ import annotations

import pytest

from hmi.qt.theme import apply_theme


@pytest.fixture
def theme(qapp):
    """The application's real style sheet while the test runs."""
    assert apply_theme(qapp)
    yield
    qapp.setStyleSheet("")
