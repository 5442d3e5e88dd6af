"""A JSON-lines shell oracle that logs the trial ids it is asked, then takes SECONDS before answering (heartbeat
tests). Usage: python slow_oracle.py LOGFILE SECONDS, or with SLOW_ORACLE_LOG and SLOW_ORACLE_SECONDS in the
environment (workers of one campaign share one oracle command, and differ only by their environment). The value is a
deterministic function of x."""

import json
import os
import sys
import time

if len(sys.argv) > 2:
    log_path, seconds = sys.argv[1], float(sys.argv[2])
else:
    log_path, seconds = os.environ["SLOW_ORACLE_LOG"], float(os.environ["SLOW_ORACLE_SECONDS"])
requests = [json.loads(line) for line in sys.stdin]
with open(log_path, "a") as log:
    log.write("".join(f"{request['trial_id']}\n" for request in requests))
time.sleep(seconds)
for request in requests:
    value = -sum((xi - 4.0) ** 2 for xi in request["x"])
    print(json.dumps({"trial_id": request["trial_id"], "value": value}), flush=True)
