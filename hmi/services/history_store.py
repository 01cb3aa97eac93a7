"""The historian's storage: samples in SQLite (WAL), fast to append and fast to decimate.

Schema, chosen for the two hot paths:

- ``samples(tag_id INTEGER, t INTEGER, value, quality INTEGER)`` is a WITHOUT ROWID table
  keyed ``(tag_id, t)``: a tag's history is one contiguous run of the B-tree, so a range
  query is a single seek and a sequential scan, and no separate index has to be updated on
  insert. ``t`` is integer milliseconds since the epoch (8 bytes at most, exact, sortable).
- ``tags(id, name)`` maps names to small integers once; names are not repeated per row.
- ``value`` keeps SQLite's dynamic type: REAL/INTEGER for numbers and bools, TEXT for
  strings. It is NULL for a BAD row (and a sample without value).
- ``quality`` is the severity (0 GOOD, 1 UNCERTAIN, 2 BAD). A BAD row starts a gap that
  lasts until the next non-BAD row: that is how comm-loss periods survive in history. Its
  (stale) value is not kept: the row before the gap has it, and NULL lets the decimating
  aggregates skip BAD rows without a per-row test.

Durability: WAL with ``synchronous=NORMAL``; each :meth:`HistoryStore.insert` is one
transaction. A killed process loses only what it had not committed yet, and the database
is never corrupt (tests/services/test_history_crash.py kills one mid-ingest).

A failed insert (a full disk) leaves nothing behind: the name -> id cache follows the
transaction, so ids of tags whose insert was rolled back are never used, and the error
raised is SQLite's own (``database or disk is full``), not the rollback's.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hmi.core.sample import Value
from hmi.services.sqlite import open_wal

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tags (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS samples (
    tag_id  INTEGER NOT NULL,
    t       INTEGER NOT NULL,
    value,
    quality INTEGER NOT NULL,
    PRIMARY KEY (tag_id, t)
) WITHOUT ROWID;
"""
BAD = 2
#: one stored row: (tag name, time in POSIX seconds, value, severity 0..2)
Row = tuple[str, float, Value, int]


@dataclass(frozen=True, slots=True)
class Series:
    """Raw samples of one tag, as columns (cheap to send and to plot)."""

    t: list[float]
    value: list[Value]
    quality: list[int]

    def to_dict(self) -> dict[str, Any]:
        """Plain lists, for the bus."""
        return {"t": self.t, "value": self.value, "quality": self.quality}


@dataclass(frozen=True, slots=True)
class Buckets:
    """One tag decimated into equal time buckets (one per pixel column), as columns.

    ``t`` is each bucket's start; ``min``/``max``/``avg`` are over its rows with a value
    (not BAD) and None where it had none; ``count`` counts those, ``bad`` the others.
    ``first``/``last`` are the values of its first and last row (None for a BAD row) at
    ``first_t``/``last_t``: the value coming into the bucket and the value it leaves
    behind, which holds (stored on change) until the next row. A bucket with
    ``count == 0`` is a gap; buckets without any row are left out. ``gap`` is 1 where
    *no data* follows the bucket: its last row is followed by no row for longer than the
    store's rows can be apart while recording (see :meth:`HistoryStore.buckets`).

    When a row precedes the range, the first entry is the value in effect at its start:
    ``t`` is the range's start, ``first_t == last_t`` the time of that row (before ``t``),
    ``count == 0`` (no row in the range), ``bad`` 1 if that row is BAD.
    """

    t: list[float]
    min: list[float | None]
    max: list[float | None]
    avg: list[float | None]
    count: list[int]
    bad: list[int]
    gap: list[int]
    first: list[Value]
    last: list[Value]
    first_t: list[float]
    last_t: list[float]

    def to_dict(self) -> dict[str, Any]:
        """Plain lists, for the bus."""
        return {
            "t": self.t,
            "min": self.min,
            "max": self.max,
            "avg": self.avg,
            "count": self.count,
            "bad": self.bad,
            "gap": self.gap,
            "first": self.first,
            "last": self.last,
            "first_t": self.first_t,
            "last_t": self.last_t,
        }


def to_ms(t: float) -> int:
    """POSIX seconds -> the integer milliseconds stored in ``t``."""
    return round(t * 1000.0)


class HistoryStore:
    """Samples of many tags in one SQLite file. Not thread-safe: one owner thread each."""

    def __init__(self, path: Path | str, *, readonly: bool = False) -> None:
        path = Path(path)
        self.path = path
        # isolation_level=None: we open transactions ourselves, one per batch.
        options: dict[str, Any] = {"isolation_level": None, "check_same_thread": False}
        if readonly:
            self._db = sqlite3.connect(str(path), **options)
            self._db.execute("PRAGMA busy_timeout = 5000")
        else:
            self._db = open_wal(path, _SCHEMA, **options)
        self._db.execute("PRAGMA cache_size = -32768")  # 32 MiB
        self._ids: dict[str, int] = {}
        self._load_ids()

    def close(self) -> None:
        """Close the connection (committed data is safe; nothing is pending here)."""
        self._db.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- tags ------------------------------------------------------------------------------
    def _load_ids(self) -> None:
        try:
            rows = self._db.execute("SELECT name, id FROM tags").fetchall()
        except sqlite3.OperationalError:  # read-only view of a file not created yet
            rows = []
        self._ids = dict(rows)

    def tag_id(self, name: str) -> int:
        """The integer id of ``name``, created on first use (committed at once)."""
        tag_id = self._ids.get(name)
        if tag_id is None:
            db = self._db
            # Its own transaction when none is open: the id is cached only once committed.
            own = not db.in_transaction
            if own:
                db.execute("BEGIN")
            try:
                tag_id = self._new_id(name)
                if own:
                    db.execute("COMMIT")
            except BaseException:
                if own:
                    self._rollback()
                raise
            self._ids[name] = tag_id
        return tag_id

    def _new_id(self, name: str) -> int:
        """Insert ``name`` (in the open transaction); its id. Not cached: see :meth:`insert`."""
        self._db.execute("INSERT OR IGNORE INTO tags (name) VALUES (?)", (name,))
        (tag_id,) = self._db.execute("SELECT id FROM tags WHERE name = ?", (name,)).fetchone()
        return int(tag_id)

    def _rollback(self) -> None:
        """Undo the open transaction, if SQLite has not already (it does by itself on a
        full disk): a "cannot rollback" here would hide the error that matters."""
        if self._db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")

    def tags(self) -> list[str]:
        """The names of every tag with history."""
        self._load_ids()
        return sorted(self._ids)

    # -- writing ---------------------------------------------------------------------------
    def insert(self, rows: Sequence[Row]) -> int:
        """Store ``rows`` in one transaction; returns how many. Same tag and ms: last wins.

        New tags get their ids in the same transaction; the cache learns them only after
        the commit, so a rolled-back id (which SQLite hands out again) is never used.
        """
        if not rows:
            return 0
        db = self._db
        db.execute("BEGIN")
        try:
            new = {name: self._new_id(name) for name in {r[0] for r in rows} - self._ids.keys()}
            ids = {**self._ids, **new} if new else self._ids
            db.executemany(
                "INSERT OR REPLACE INTO samples VALUES (?, ?, ?, ?)",
                # A BAD row stores no value: it marks a gap (see the module docstring).
                [(ids[n], round(t * 1000.0), None if q >= BAD else v, q) for n, t, v, q in rows],
            )
            db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        self._ids.update(new)
        return len(rows)

    def purge(self, before: float, batch: int = 50_000) -> int:
        """Delete samples older than ``before`` (retention); returns how many.

        Per tag, so each delete is a key-range delete, and in bounded batches so a big
        first purge never holds the write lock for long.
        """
        cutoff = to_ms(before)
        total = 0
        for tag_id in list(self._ids.values()):
            while True:
                # autocommit: each batch is its own transaction (a failure undoes one batch)
                cur = self._db.execute(
                    "DELETE FROM samples WHERE tag_id = ? AND t IN "
                    "(SELECT t FROM samples WHERE tag_id = ? AND t < ? LIMIT ?)",
                    (tag_id, tag_id, cutoff, batch),
                )
                total += cur.rowcount
                if cur.rowcount < batch:
                    break
        return total

    def checkpoint(self) -> None:
        """Fold the WAL back into the database file (keeps the WAL from growing)."""
        self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    # -- reading ---------------------------------------------------------------------------
    def raw(
        self, tag: str, start: float, end: float, limit: int = 100_000, prior: bool = True
    ) -> Series:
        """Samples of ``tag`` with ``start <= t < end``, oldest first, at most ``limit``.

        With ``prior``, the last sample before ``start`` comes first, so a trend can draw
        the line from the left edge of its view.
        """
        series = Series([], [], [])
        tag_id = self._ids.get(tag)
        if tag_id is None:
            self._load_ids()
            tag_id = self._ids.get(tag)
            if tag_id is None:
                return series
        lo, hi = to_ms(start), to_ms(end)
        rows: list[tuple[int, Value, int]] = []
        if prior:
            rows += self._db.execute(
                "SELECT t, value, quality FROM samples WHERE tag_id = ? AND t < ? "
                "ORDER BY t DESC LIMIT 1",
                (tag_id, lo),
            ).fetchall()
        rows += self._db.execute(
            "SELECT t, value, quality FROM samples WHERE tag_id = ? AND t >= ? AND t < ? "
            "ORDER BY t LIMIT ?",
            (tag_id, lo, hi, limit),
        ).fetchall()
        for t, value, quality in rows:
            series.t.append(t / 1000.0)
            series.value.append(value)
            series.quality.append(quality)
        return series

    def buckets(
        self,
        tag: str,
        start: float,
        end: float,
        width: int,
        *,
        gap_after: float | None = None,
        now: float | None = None,
    ) -> Buckets:
        """``tag`` over ``[start, end)`` in ``width`` equal buckets: min/max/avg per bucket.

        The aggregation runs in SQL; nothing but the ``width`` result rows reaches Python.
        The first entry is the value in effect at ``start`` (the last row before it, see
        :class:`Buckets`), so a trend knows what to draw from its left edge: stored on
        change, that row may be long before ``start``. Each bucket also carries its first
        and last row (time and value): the value after a bucket is its last row's, held
        until the next row, not its average. With ``gap_after`` (seconds), an entry whose
        last row is followed by no row for longer than that is marked ``gap``: the
        recorder writes a row at least that often while it runs (store on change, at most
        ``max_interval`` apart), so a longer silence means nothing was recorded. After the
        last row the silence is measured up to the next row after ``end``, else up to
        ``min(end, now)`` (rows not flushed yet are at most a flush old, inside
        ``gap_after``).
        """
        out = Buckets([], [], [], [], [], [], [], [], [], [], [])
        tag_id = self._ids.get(tag)
        if tag_id is None:
            self._load_ids()
            tag_id = self._ids.get(tag)
        if tag_id is None or width <= 0 or end <= start:
            return out
        lo, hi = to_ms(start), to_ms(end)
        step = max(1, -(-(hi - lo) // width))  # ceiling: at most ``width`` buckets
        db = self._db
        # The bucket grid is a tiny temp table joined to the samples: SQLite walks it in
        # order and does one key-range seek per bucket, so GROUP BY needs no temp B-tree
        # over the 600,000 rows of a week (GROUP BY (t - lo) / step needs one: ~2x slower).
        db.execute(
            "CREATE TEMP TABLE IF NOT EXISTS grid (i INTEGER PRIMARY KEY, a INTEGER, z INTEGER)"
        )
        db.execute("DELETE FROM temp.grid")
        n = -(-(hi - lo) // step)
        db.executemany(
            "INSERT INTO temp.grid VALUES (?, ?, ?)",
            [(i, lo + i * step, min(hi, lo + (i + 1) * step)) for i in range(n)],
        )
        # One read transaction: the aggregates, the edges and the prior row see the same
        # rows even while the writer commits.
        db.execute("BEGIN")
        try:
            # BAD rows hold NULL, so the aggregates skip them and count(*) - count(value)
            # says how many there were: no CASE per row (that alone costs a third).
            rows = db.execute(
                "SELECT g.i, min(s.value), max(s.value), avg(s.value), count(s.value),"
                " count(*) - count(s.value)"
                " FROM temp.grid AS g JOIN samples AS s"
                " ON s.tag_id = ? AND s.t >= g.a AND s.t < g.z"
                " GROUP BY g.i ORDER BY g.i",
                (tag_id,),
            ).fetchall()
            edges = self._edges(tag_id) if rows else {}
            prior = db.execute(
                "SELECT t, value, quality FROM samples WHERE tag_id = ? AND t < ? "
                "ORDER BY t DESC LIMIT 1",
                (tag_id, lo),
            ).fetchone()
        finally:
            db.execute("COMMIT")
        if prior is not None:
            t, value, quality = prior
            value = None if quality >= BAD else value
            at = t / 1000.0
            out.t.append(lo / 1000.0)
            for column in (out.min, out.max, out.avg, out.first, out.last):
                column.append(value)
            out.count.append(0)
            out.bad.append(int(value is None))
            out.first_t.append(at)
            out.last_t.append(at)
        for b, mn, mx, avg, count, bad in rows:
            first_t, first, last_t, last = edges[b]
            out.t.append((lo + b * step) / 1000.0)
            out.min.append(mn)
            out.max.append(mx)
            out.avg.append(avg)
            out.count.append(count)
            out.bad.append(bad)
            out.first.append(first)
            out.last.append(last)
            out.first_t.append(first_t / 1000.0)
            out.last_t.append(last_t / 1000.0)
        out.gap.extend([0] * len(out.t))
        if gap_after is not None and out.t:
            until = self._silent_until(tag_id, hi, now)
            self._mark_silences(out, to_ms(gap_after), until)
        return out

    def _edges(self, tag_id: int) -> dict[int, tuple[int, Value, int, Value]]:
        """``{bucket: (first t, its value, last t, its value)}`` of ``temp.grid``'s buckets.

        Four key seeks per bucket (~5 ms for 2,000 buckets); ``min(t), max(t)`` in the
        aggregation instead cost 35 ms on a week at 1 s, and correlated in it 100 ms (run
        once per row). BAD rows hold NULL: a first or last row that is BAD reads None.
        """
        in_bucket = "FROM samples WHERE tag_id = ?1 AND t >= g.a AND t < g.z ORDER BY t"
        return {
            i: (first_t, first, last_t, last)
            for i, first_t, first, last_t, last in self._db.execute(
                f"SELECT g.i, (SELECT t {in_bucket} LIMIT 1), (SELECT value {in_bucket} LIMIT 1),"
                f" (SELECT t {in_bucket} DESC LIMIT 1), (SELECT value {in_bucket} DESC LIMIT 1)"
                " FROM temp.grid AS g",
                (tag_id,),
            )
            if first_t is not None
        }

    @staticmethod
    def _mark_silences(out: Buckets, limit: int, until: int) -> None:
        """Set ``gap[k]`` when entry ``k``'s last row is followed by no row for more than
        ``limit`` ms (``until``: where the silence after the last entry ends)."""
        lasts = [to_ms(t) for t in out.last_t]
        following = [*(to_ms(t) for t in out.first_t[1:]), until]
        for k, (last, after) in enumerate(zip(lasts, following, strict=True)):
            if after - last > limit:
                out.gap[k] = 1

    def _silent_until(self, tag_id: int, hi: int, now: float | None) -> int:
        """Where a silence after the last row before ``hi`` (ms) ends: the next row, or now."""
        after = self._db.execute(
            "SELECT t FROM samples WHERE tag_id = ? AND t >= ? ORDER BY t LIMIT 1",
            (tag_id, hi),
        ).fetchone()
        if after is not None:
            return int(after[0])
        return hi if now is None else min(hi, to_ms(now))

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check``: ``ok`` or the problems found."""
        rows = self._db.execute("PRAGMA integrity_check").fetchall()
        return "\n".join(str(r[0]) for r in rows)

    def count(self, tag: str | None = None) -> int:
        """Rows stored (of ``tag``, or of all tags)."""
        if tag is None:
            return int(self._db.execute("SELECT count(*) FROM samples").fetchone()[0])
        tag_id = self._ids.get(tag)
        if tag_id is None:
            return 0
        sql = "SELECT count(*) FROM samples WHERE tag_id = ?"
        return int(self._db.execute(sql, (tag_id,)).fetchone()[0])
