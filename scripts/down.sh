#!/usr/bin/env bash
# Stops the daemon that scripts/up.sh started (SIGTERM: in-flight requests finish, jobs are interrupted cleanly).
set -euo pipefail
state_dir=${BANGER_STATE_DIR:-$( [ "$(id -u)" -eq 0 ] && echo /var/lib/banger || echo "${XDG_STATE_HOME:-$HOME/.local/state}/banger" )}
pid_file="$state_dir/banger.pid"
if [ ! -f "$pid_file" ] || ! kill -0 "$(cat "$pid_file")" 2>/dev/null; then
  echo "banger is not running (no live pid in $pid_file)"
  exit 0
fi
pid=$(cat "$pid_file")
kill -TERM "$pid"
for _ in $(seq 1 300); do
  kill -0 "$pid" 2>/dev/null || { rm -f "$pid_file"; echo "banger stopped"; exit 0; }
  sleep 0.1
done
echo "banger (pid $pid) did not stop within 30 s" >&2
exit 1
