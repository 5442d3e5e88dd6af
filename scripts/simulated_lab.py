"""A simulated slow oracle for the executor benchmark: each candidate takes 1 to 10 s (a deterministic function of
its bytes), and its value is gmm2d's corner score -|x - (4, 4)|^2 / 2.

`one_at_a_time(x)` scores candidates one after another (what an executor's worker runs, one trial per call);
`four_slots(x)` scores a batch on 4 parallel slots and returns when the last is done (the blocking loop's lab).
Latencies are written to $LAB_LOG (one "seconds" line per candidate) for the utilisation figures.
"""

from __future__ import annotations

import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

SLOTS = 4


def latency(row: np.ndarray) -> float:
    digest = hashlib.blake2b(np.ascontiguousarray(row, dtype=np.float64).tobytes(), digest_size=8).digest()
    return 1.0 + 9.0 * int.from_bytes(digest, "little") / 2**64


def _score(row: np.ndarray) -> float:
    seconds = latency(row)
    time.sleep(seconds)
    if os.environ.get("LAB_LOG"):
        with open(os.environ["LAB_LOG"], "a") as log:
            log.write(f"{seconds}\n")
    return float(-np.sum((np.asarray(row, dtype=np.float64) - 4.0) ** 2) / 2)


def one_at_a_time(x: np.ndarray) -> list[float]:
    return [_score(row) for row in np.asarray(x)]


def four_slots(x: np.ndarray) -> list[float]:
    with ThreadPoolExecutor(SLOTS) as pool:
        return list(pool.map(_score, np.asarray(x)))
