"""A JSON-lines shell oracle that logs every trial id it is asked to score (for the crash tests).

Usage: python logging_oracle.py LOGFILE. The value is a deterministic function of x, so a re-run scores the same.
"""

import json
import sys
import time

log_path = sys.argv[1]
for line in sys.stdin:
    request = json.loads(line)
    with open(log_path, "a") as log:
        log.write(f"{request['trial_id']}\n")
    time.sleep(0.02)
    x = request["x"]
    value = -sum((xi - 4.0) ** 2 for xi in x)
    print(json.dumps({"trial_id": request["trial_id"], "value": value}), flush=True)
