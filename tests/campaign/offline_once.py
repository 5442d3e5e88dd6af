"""A Python oracle whose instrument is offline on its first call (it raises), then scores the corner reward.

The first call leaves the file $OFFLINE_ONCE_MARKER behind, so that the retry, in whatever process, succeeds."""

import os

import numpy as np


def measure(x):
    marker = os.environ["OFFLINE_ONCE_MARKER"]
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("instrument offline")
    return [-float(np.sum((row - 4.0) ** 2)) for row in x]
