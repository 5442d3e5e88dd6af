"""A slow Python oracle for `oboptim run --oracle slow_measure.py:measure`: it marks that it started, takes
$SLOW_MEASURE_SECONDS (default 8) per batch, then appends one JSON line per candidate to $SLOW_MEASURE_LOG: its x, the
value it returns and the time. The value is a deterministic function of x (the gmm2d corner reward)."""

import json
import os
import time

import numpy as np


def measure(x):
    log = os.environ["SLOW_MEASURE_LOG"]
    with open(log + ".started", "a") as started:
        started.write(f"{len(x)}\n")
    time.sleep(float(os.environ.get("SLOW_MEASURE_SECONDS", "8")))
    values = [-float(np.sum((row - 4.0) ** 2)) for row in x]
    with open(log, "a") as out:
        for row, value in zip(x, values):
            out.write(json.dumps({"x": np.asarray(row).tolist(), "value": value, "time": time.time()}) + "\n")
    return values
