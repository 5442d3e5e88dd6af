"""A module-level oracle for executor tests: sleeps a time that depends on x (so results come back out of order),
logs each trial's x to a file named by $SLEEPY_LOG, and returns -|x - (4, 4)|^2."""

import os
import time

import numpy as np


def oracle(x):
    x = np.asarray(x, dtype=np.float64)
    log = os.environ.get("SLEEPY_LOG")
    if log:
        with open(log, "a") as handle:
            handle.write("".join(f"{row.tobytes().hex()}\n" for row in x))
    time.sleep(float(os.environ.get("SLEEPY_SCALE", "0.05")) * (1 + (abs(x[:, 0].sum()) * 7) % 3))
    return list(-np.sum((x - 4.0) ** 2, axis=-1))


def dying_oracle(x):
    """The sleepy oracle, except that the first call to claim the file named by $DIE_MARKER kills its own process
    (as an out-of-memory kill or a lost node would) before answering or logging."""
    marker = os.environ.get("DIE_MARKER")
    if marker:
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            pass
        else:
            os._exit(1)
    return oracle(x)
