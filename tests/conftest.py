"""Test configuration shared by every test: Qt runs offscreen, always."""

from __future__ import annotations

import os

# Before anything imports Qt: tests never need (or may use) a real display.
os.environ["QT_QPA_PLATFORM"] = "offscreen"
