#!/bin/bash
# Pin PostgreSQL (every process; new backends inherit the postmaster's mask) and Redis to the CPUs given, e.g.
#   benchmarks/pin_services.sh 1      # the "database machine" is core 1
#   benchmarks/pin_services.sh 0-1    # back to both cores (do this after the run)
# Needs the right to change those processes' affinity (root, or the postgres/redis user).
set -euo pipefail
for pid in $(pgrep -x postgres) $(pgrep -x redis-server); do taskset -a -p -c "$1" "$pid" >/dev/null; done
