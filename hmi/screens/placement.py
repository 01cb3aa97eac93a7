"""Where a faceplate opens: beside the equipment it belongs to, never on top of it.

An operator who clicks a pump must still see the pump (its state, its alarm mark) while
operating it from the faceplate: the popup goes beside the symbol (right, left, below or
above), inside the screen's free area, on the side where it hides the least of the rest
of the drawing.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPoint, QRect, QSize

#: the gap between the equipment and its faceplate
GAP = 16


def place_beside(
    anchor: QRect,
    size: QSize,
    area: QRect,
    avoid: Sequence[QRect] = (),
    gap: int = GAP,
) -> QPoint:
    """The top left corner for a window of ``size`` beside ``anchor``, inside ``area``.

    Each side (right, left, below, above; slid along it to stay inside ``area``) that
    does not cover ``anchor`` is a candidate; the one covering least of ``avoid`` (other
    equipment) wins, the earlier side on a tie. If no side fits (a faceplate larger than
    the space around), the side with the most room is taken.
    """
    w, h = size.width(), size.height()

    def slide_y(y: int) -> int:
        return max(area.top(), min(y, area.bottom() + 1 - h))

    def slide_x(x: int) -> int:
        return max(area.left(), min(x, area.right() + 1 - w))

    right, left = anchor.right() + 1 + gap, anchor.left() - gap - w
    below, above = anchor.bottom() + 1 + gap, anchor.top() - gap - h
    sides = [
        # beside: top a little above the symbol's top, like a callout
        (QPoint(right, slide_y(anchor.top() - gap)), area.right() + 1 - (right + w)),
        (QPoint(left, slide_y(anchor.top() - gap)), left - area.left()),
        (QPoint(slide_x(anchor.left()), below), area.bottom() + 1 - (below + h)),
        (QPoint(slide_x(anchor.left()), above), above - area.top()),
    ]
    fitting = [
        corner
        for corner, spare in sides
        if spare >= 0 and not QRect(corner, size).intersects(anchor)
    ]
    if fitting:
        return min(fitting, key=lambda corner: _covered(QRect(corner, size), avoid))
    corner, _ = max(sides, key=lambda item: item[1])
    return QPoint(slide_x(corner.x()), slide_y(corner.y()))


def _covered(window: QRect, avoid: Sequence[QRect]) -> int:
    """How many pixels of ``avoid`` the window hides."""
    total = 0
    for rect in avoid:
        hidden = window.intersected(rect)
        if not hidden.isEmpty():
            total += hidden.width() * hidden.height()
    return total
