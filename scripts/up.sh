#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, starts the daemon in the
# background and shows the catalogue through the CLI.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-host-deps.sh
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build --silent
# Puts `banger` on PATH (a symlink to this checkout's dist/bin/banger.js).
command -v banger >/dev/null 2>&1 || npm link --silent --no-audit --no-fund >/dev/null 2>&1 \
  || echo "note: could not put banger on PATH (npm link failed); use: node dist/bin/banger.js"

state_dir=${BANGER_STATE_DIR:-$( [ "$(id -u)" -eq 0 ] && echo /var/lib/banger || echo "${XDG_STATE_HOME:-$HOME/.local/state}/banger" )}
socket=${BANGER_SOCKET:-$state_dir/banger.sock}
mkdir -p "$state_dir"
banger() { node dist/bin/banger.js --socket "$socket" "$@"; }

if banger image ls >/dev/null 2>&1; then
  echo "banger is already running on $socket"
else
  nohup node dist/bin/banger.js serve --state-dir "$state_dir" --socket "$socket" >>"$state_dir/banger.log" 2>&1 &
  echo $! >"$state_dir/banger.pid"
  for _ in $(seq 1 100); do
    [ -S "$socket" ] && break
    sleep 0.1
  done
  if [ ! -S "$socket" ]; then
    echo "banger did not start; the end of its log ($state_dir/banger.log):" >&2
    tail -n 20 "$state_dir/banger.log" >&2
    exit 1
  fi
  echo "banger is running (pid $(cat "$state_dir/banger.pid")), socket $socket, log $state_dir/banger.log"
fi

echo
echo "images:"
banger image ls
echo
echo "try: curl --unix-socket $socket http://banger/images"
echo "stop it with: scripts/down.sh"
