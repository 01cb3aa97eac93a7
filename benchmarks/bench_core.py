"""Tag store speed: applying a 10,000-sample batch, against a plain dict update baseline.

Prints one JSON line last: ``apply_10k_ms`` (median, target well under 10 ms),
``baseline_dict_update_ms`` (the same batch into a bare dict, same run) and ``ratio``.
"""

from __future__ import annotations

import json
import statistics
import time

from hmi.core.quality import GOOD
from hmi.core.sample import Sample
from hmi.core.tagstore import TagStore

N = 10_000
ROUNDS = 50


def main() -> None:
    batches = [
        {f"area/dev{i // 100}/p{i}": Sample(float(i + r), GOOD, r, r) for i in range(N)}
        for r in range(4)
    ]
    store = TagStore()
    seen = []
    store.observe(lambda batch: seen.append(len(batch)))
    plain: dict[str, Sample] = {}
    ours, base = [], []
    for r in range(ROUNDS):
        batch = batches[r % len(batches)]
        t0 = time.perf_counter()
        plain.update(batch)
        t1 = time.perf_counter()
        store.apply(batch)
        t2 = time.perf_counter()
        store.take_changed()
        base.append((t1 - t0) * 1e3)
        ours.append((t2 - t1) * 1e3)
    result = {
        "apply_10k_ms": round(statistics.median(ours), 3),
        "apply_10k_ms_max": round(max(ours), 3),
        "baseline_dict_update_ms": round(statistics.median(base), 3),
        "ratio": round(statistics.median(ours) / statistics.median(base), 2),
        "target_ms": 10,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
