"""kill -9 during heavy ingest: the database opens, passes integrity_check, and holds at
least everything the historian had reported as flushed before the kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hmi.services.history_store import HistoryStore

INGEST = textwrap.dedent(
    """
    import asyncio, sys, time
    from hmi.bus import Bus, Supervisor, encode_samples
    from hmi.core.sample import Sample
    from hmi.services.historian import Historian

    async def main(path):
        bus = Bus.local()
        async with Supervisor(bus) as sup:
            historian = await sup.start(Historian(path, flush_interval=0.05))
            # Real timestamps: retention must not purge them while we ingest.
            t, reported = time.time(), -1
            while True:
                t += 1.0
                batch = {f"a/b/t{k}": Sample(t + k, source_time=t) for k in range(2000)}
                bus.publish("tag/dev", encode_samples(batch))
                # ~100 batches/s = 200,000 samples/s offered: heavy, but leaving the loop
                # some idle time as a real node has (a loop at 100 % CPU starves the
                # writer thread of the GIL: see docs/historian.md).
                await asyncio.sleep(0.01)
                if historian.stored != reported:
                    reported = historian.stored
                    print(reported, flush=True)

    asyncio.run(main(sys.argv[1]))
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_kill_9_during_ingest_loses_at_most_the_last_flush(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    script = tmp_path / "ingest.py"
    script.write_text(INGEST)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.Popen(
        [sys.executable, str(script), str(path)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        reported = 0
        flushes = 0
        for line in proc.stdout:
            value = int(line)
            if value > reported:
                reported = value
                flushes += 1
            if flushes >= 5:  # several committed flushes, and more ingest under way
                break
        assert flushes >= 5, "the ingest process stopped early"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    with HistoryStore(path) as store:
        assert store.integrity_check() == "ok"
        assert store.count() >= reported > 0
