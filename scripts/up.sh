#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, starts the daemon in the
# background, builds the default Debian image (once) and boots a VM from it, then runs
# `uname -a` in it over SSH. Re-running it reuses what is already there.
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

image=${BANGER_QUICKSTART_IMAGE:-default}
vm=${BANGER_QUICKSTART_VM:-quickstart}

echo
if banger image show "$image" >/dev/null 2>&1; then
  echo "image $image is already built"
else
  echo "building image $image (Debian bookworm; about a minute or two):"
  banger image build "$image" --recipe debian-bookworm
fi

echo
if [ "$(banger vm show "$vm" --json 2>/dev/null | node -p 'JSON.parse(require("fs").readFileSync(0, "utf8")).state' 2>/dev/null)" = running ]; then
  echo "VM $vm is already running"
else
  banger vm rm "$vm" >/dev/null 2>&1 || true
  echo "creating VM $vm from $image:"
  banger vm create "$vm" --image "$image" --cpus 2 --memory 1024 --port 22
fi

echo
echo "$ banger vm ssh $vm -- uname -a"
banger vm ssh "$vm" -- uname -a

echo
echo "the daemon:  socket $socket, log $state_dir/banger.log; try: curl --unix-socket $socket http://banger/vms"
echo "the VM:      banger vm ssh $vm    (delete it with: banger vm rm $vm)"
echo "stop banger: scripts/down.sh"
