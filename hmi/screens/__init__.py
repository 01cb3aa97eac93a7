"""Operator screens: the main window shell, ``.ui`` files and navigation."""
