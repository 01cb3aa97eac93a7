"""The high-performance (ISA-101) look drawn by widgets: palette, quality and alarm marks.

Colour is for abnormal states only. Quality and alarms are painted by the widget that shows
the value (no style-sheet re-polish), and never only by colour: UNCERTAIN is a dashed
outline and a ``?``, BAD a grey hatch and an ``X``, alarm priorities have their own shape
and number.
"""

from __future__ import annotations

from typing import NamedTuple

from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import QWidget

from hmi.core.quality import Quality, Severity
from hmi.core.sample import Sample
from hmi.core.tag import Tag
from hmi.qt.format import format_value

# -- palette (matches hmi/qt/resources/theme.qss) ----------------------------------------
BACKGROUND = QColor("#d4d4d4")
PANEL = QColor("#c6c6c6")
TEXT = QColor("#1a1a1a")
#: process values: dark blue-grey, readable on grey, not an alarm colour
VALUE = QColor("#0d2b45")
LINE = QColor("#5a5a5a")
#: the flat field of a readout (ValueLabel, StateIndicator): matches theme.qss
FIELD = QColor("#e6e6e6")
FIELD_EDGE = QColor("#b4b4b4")
#: equipment running / open / energised: dark fill; stopped / closed: light fill
ACTIVE_FILL = QColor("#3c3c3c")
IDLE_FILL = QColor("#ececec")
NORMAL_BAND = QColor("#a9a9a9")
LIQUID = QColor("#8fa6bd")
UNCERTAIN = QColor("#8a6d00")
BAD_GREY = QColor("#8c8c8c")
BAD_MARK = QColor("#6b2d8f")
#: alarm priority 1..4: colour, shape and number (never colour alone)
ALARM_COLOURS = {
    1: QColor("#d40000"),
    2: QColor("#ff8c00"),
    3: QColor("#f2d600"),
    4: QColor("#b04fd0"),
}


class AlarmMark(NamedTuple):
    """What a widget draws for its tag's alarm: nothing (priority 0) or the priority shape.

    ``unacknowledged``: waiting for an operator (a thick black border, and it flashes);
    ``returned``: the condition cleared before the ack (drawn hollow); ``dim``: the dark
    half of the flash (an unacknowledged mark is drawn hollow, a returned one not at all).
    A tuple: comparing two marks per frame costs nothing.
    """

    priority: int = 0
    unacknowledged: bool = False
    returned: bool = False
    dim: bool = False


NO_MARK = AlarmMark()


def local_mark(tag: Tag | None, sample: Sample) -> AlarmMark:
    """The mark judged from the tag's limits alone, where no alarm engine exists (Designer)."""
    priority = alarm_priority(tag, sample)
    return AlarmMark(priority) if priority else NO_MARK


def alarm_priority(tag: Tag | None, sample: Sample) -> int:
    """The alarm priority the value is in (0 for none), judged from the tag's limits.

    Only where no alarm engine exists (Designer's preview): no delays, no deadband, no
    acknowledgement, no shelving. A session's widgets read the engine's state instead
    (:meth:`hmi.qt.link.TagLink.alarm_mark`).
    """
    if tag is None or tag.alarms is None or sample.value is None:
        return 0
    alarms, value = tag.alarms, sample.value
    if alarms.state is not None:
        return alarms.priority if value == alarms.state else 0
    if isinstance(value, str):
        return 0
    number = float(value)
    high = (alarms.hihi is not None and number >= alarms.hihi) or (
        alarms.hi is not None and number >= alarms.hi
    )
    low = (alarms.lolo is not None and number <= alarms.lolo) or (
        alarms.lo is not None and number <= alarms.lo
    )
    if alarms.hihi is not None and number >= alarms.hihi:
        return max(1, alarms.priority - 1)
    if alarms.lolo is not None and number <= alarms.lolo:
        return max(1, alarms.priority - 1)
    return alarms.priority if high or low else 0


def describe_sample(name: str, tag: Tag | None, sample: Sample) -> str:
    """Tooltip text: what the tag is, its value (in the tag's format and unit, as the
    screens show it: ``2.58 m``, never a float's ``2.579763174057007``), its quality."""
    lines = [name]
    if tag is not None and tag.description:
        lines.append(tag.description)
    value = sample.value
    text = format_value(value, tag, with_unit=True) if value is not None else "none"
    lines.append(f"Value: {text}")
    lines.append(f"Quality: {sample.quality.describe()}")
    return "\n".join(lines)


def paint_quality(
    painter: QPainter, rect: QRectF, quality: Quality, mark_left: float | None = None
) -> None:
    """Mark ``rect`` for a non-GOOD quality: dashed outline + ``?``, or grey hatch + ``X``.

    The ``?``/``X`` box goes in the top right corner, or at ``mark_left`` (right-aligned
    text keeps its left side free; the mark must not hide digits).
    """
    if quality.severity is Severity.GOOD:
        return
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
    inner = rect.adjusted(1, 1, -1, -1)
    if quality.severity is Severity.UNCERTAIN:
        pen = QPen(UNCERTAIN, 1.5, Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(inner)
        _corner_mark(painter, rect, "?", UNCERTAIN, mark_left)
    else:
        wash = QColor(BACKGROUND)
        wash.setAlpha(150)
        painter.fillRect(inner, wash)
        painter.fillRect(inner, QBrush(BAD_GREY, Qt.BrushStyle.BDiagPattern))
        painter.setPen(QPen(BAD_MARK, 1.5))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(inner)
        _corner_mark(painter, rect, "X", BAD_MARK, mark_left)
    painter.restore()


def _corner_mark(
    painter: QPainter, rect: QRectF, text: str, colour: QColor, left: float | None
) -> None:
    size = min(14.0, rect.height() - 2)
    x = rect.right() - size - 1 if left is None else rect.left() + left
    box = QRectF(x, rect.top() + (rect.height() - size) / 2, size, size)
    painter.fillRect(box, colour)
    painter.setPen(QColor("#ffffff"))
    font = QFont(painter.font())
    font.setPixelSize(max(8, int(size) - 3))
    font.setBold(True)
    painter.setFont(font)
    painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)


#: the side of an alarm mark wherever there is room: its number must read from a metre away
MARK_SIZE = 22.0
#: the smallest mark drawn (a cramped widget); below this the number stops being legible
MARK_MIN = 18.0
#: the light ring around every mark: it keeps a red mark apart from a red fill, a yellow
#: one apart from a yellow fill, a black frame apart from a dark (running) symbol
HALO = QColor("#ffffff")


def mark_side(room: float) -> float:
    """The side of an alarm mark for ``room`` pixels: :data:`MARK_SIZE`, less when cramped."""
    return max(MARK_MIN, min(MARK_SIZE, room))


def _mark_path(priority: int, box: QRectF) -> QPainterPath:
    """The priority's shape in ``box``: 1 square, 2 triangle, 3 inverted triangle, 4 circle."""
    path = QPainterPath()
    c = box.center()
    if priority == 1:
        path.addRect(box.adjusted(1, 1, -1, -1))
    elif priority == 2:
        path.addPolygon(QPolygonF([QPointF(c.x(), box.top()), box.bottomRight(), box.bottomLeft()]))
        path.closeSubpath()
    elif priority == 3:
        path.addPolygon(QPolygonF([box.topLeft(), box.topRight(), QPointF(c.x(), box.bottom())]))
        path.closeSubpath()
    else:
        path.addEllipse(c, box.width() / 2 - 1, box.height() / 2 - 1)
    return path


def paint_alarm_mark(painter: QPainter, box: QRectF, mark: AlarmMark | int) -> None:
    """Draw the priority shape with its number in ``box``: 1 square, 2 triangle,
    3 inverted triangle, 4 circle (an int is a plain, acknowledged mark of that priority).

    Acknowledged: the filled shape. Waiting for an acknowledgement: a black frame around
    it, the shape filled while the condition holds, hollow once it returned to normal; in
    the flash's dark half the frame stays and the shape goes hollow (active) or away
    (returned), so the mark blinks without ever leaving its place.

    Every mark has a light halo and a black outline, so it stands out on any fill (a red
    square on a red LOW-LOW field, a yellow triangle on a yellow INTERLOCK field, a black
    frame on a running pump); paint it after the quality hatch, never under it.
    """
    if isinstance(mark, int):
        mark = AlarmMark(mark)
    priority = mark.priority
    if priority <= 0:
        return
    colour = ALARM_COLOURS.get(priority, ALARM_COLOURS[4])
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    if mark.unacknowledged:
        frame = box.adjusted(-1.5, -1.5, 1.5, 1.5)
        halo = QPen(HALO, 4.0)
        halo.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
        painter.setPen(halo)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(frame)
        pen = QPen(QColor("#000000"), 1.8)
        pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
        painter.setPen(pen)
        painter.drawRect(frame)
        if mark.returned and mark.dim:
            painter.restore()
            return
    hollow = mark.returned or mark.dim
    path = _mark_path(priority, box)
    # The halo first, under the outline: wide and light, it parts the mark from any fill.
    halo = QPen(HALO, 4.0)
    halo.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    painter.strokePath(path, halo)
    if hollow:
        # Hollow: the priority's colour as a thick outline (between two black lines, so a
        # yellow ring reads on a yellow fill), the inside light.
        painter.fillPath(path, HALO)
        outline = QPen(QColor("#000000"), 4.0)
        outline.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
        painter.strokePath(path, outline)
        ring = QPen(colour, 2.4)
        ring.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
        painter.strokePath(path, ring)
    else:
        painter.fillPath(path, colour)
        outline = QPen(QColor("#000000"), 1.3)
        outline.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
        painter.strokePath(path, outline)
    h = box.height()
    font = QFont(painter.font())
    # Triangles have less room for the digit than the square and the circle.
    font.setPixelSize(max(9, int(h * (0.52 if priority in (2, 3) else 0.64))))
    font.setBold(True)
    painter.setFont(font)
    dark_text = hollow or priority in (2, 3)
    painter.setPen(QColor("#000000") if dark_text else QColor("#ffffff"))
    text_box = box
    if priority == 2:
        text_box = box.adjusted(0, h * 0.22, 0, 0)
    elif priority == 3:
        text_box = box.adjusted(0, 0, 0, -h * 0.3)
    painter.drawText(text_box, Qt.AlignmentFlag.AlignCenter, str(priority))
    painter.restore()


class QualityOverlay(QWidget):
    """A mouse-transparent child that draws quality and alarm marks over any widget.

    Used by widgets whose text Qt paints in C++ (ValueLabel, bound stock widgets): the
    overlay exists only while something is abnormal, so normal frames cost nothing extra.
    """

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, True)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground, True)
        self.quality = Quality()
        self.mark = NO_MARK
        #: where the quality mark goes (None: top right corner)
        self.mark_left: float | None = None
        self.setGeometry(parent.rect())
        self.hide()

    @property
    def priority(self) -> int:
        """The alarm priority marked (0: none)."""
        return self.mark.priority

    def set_state(self, quality: Quality, mark: AlarmMark | int) -> None:
        """Show ``quality`` and the alarm ``mark`` (an int: a plain mark of that priority);
        hides itself when both are normal."""
        if isinstance(mark, int):
            mark = AlarmMark(mark) if mark > 0 else NO_MARK
        if quality == self.quality and mark == self.mark:
            return
        self.quality, self.mark = quality, mark
        shown = not quality.is_good or mark.priority > 0
        parent = self.parentWidget()
        if shown and parent is not None and not self.isVisibleTo(parent):
            # Follow the parent's size only while shown: an event filter sees every event
            # of the parent, too dear for hundreds of normal values.
            parent.installEventFilter(self)
            self.setGeometry(parent.rect())
            self.raise_()
        elif not shown and parent is not None:
            parent.removeEventFilter(self)
        self.setVisible(shown)
        self.update()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Follow the parent's size."""
        parent = self.parentWidget()
        if event.type() == QEvent.Type.Resize and parent is not None and watched is parent:
            self.setGeometry(parent.rect())
        return False

    def paintEvent(self, event: QPaintEvent) -> None:
        """Draw the quality mark over the whole widget, then the alarm mark on the left
        (over the hatch: a BAD input must not fade the alarm)."""
        painter = QPainter(self)
        rect = QRectF(self.rect())
        paint_quality(painter, rect, self.quality, self.mark_left)
        if self.mark.priority:
            side = mark_side(rect.height() - 2)
            paint_alarm_mark(painter, QRectF(2, (rect.height() - side) / 2, side, side), self.mark)
        painter.end()
