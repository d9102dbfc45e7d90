#!/usr/bin/env bash
# Installs the host tools banger runs (Debian/Ubuntu). Safe to re-run: it only installs what is missing.
set -euo pipefail

# command -> Debian package that provides it
declare -A tools=(
  [mkfs.ext4]=e2fsprogs
  [debugfs]=e2fsprogs
  [ssh-keygen]=openssh-client
  [cp]=coreutils
  [truncate]=coreutils
  [curl]=curl
  # The README's API example (test/integration/readme-examples.test.ts) reads JSON with it.
  [jq]=jq
  [du]=coreutils
  [umount]=mount
  [ssh]=openssh-client
  [qemu-system-x86_64]=qemu-system-x86
  [qemu-img]=qemu-utils
  [mmdebstrap]=mmdebstrap
  [apt-get]=apt
  [dpkg-deb]=dpkg
  [ldd]=libc-bin
  # Copied into busybox guests as their SSH server (exec and file transfer).
  [/usr/sbin/dropbear]=dropbear-bin
  [/usr/lib/openssh/sftp-server]=openssh-sftp-server
  # Only for the tests: test/integration/docs-ui.test.ts opens the Swagger UI at /docs in it, headless.
  [chromium]=chromium
)

missing=()
for tool in "${!tools[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$tool" >/dev/null 2>&1 || missing+=("${tools[$tool]}")
done
# Guests and initrds need a statically linked busybox; Debian's plain busybox package is dynamic.
busybox_is_static() {
  [ -x /bin/busybox ] || return 1
  # A dynamic ELF names its loader (ld-linux…) in its first bytes.
  ! LC_ALL=C od -An -c -N 4096 /bin/busybox | tr -d ' \n' | grep -q 'ld-linux'
}
busybox_is_static || missing+=(busybox-static)
mapfile -t packages < <(printf '%s\n' "${missing[@]}" | sort -u | sed '/^$/d')

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "banger needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))." >&2
  echo "On Debian 12: apt-get install -y nodejs npm  (Debian ships 18; use NodeSource's node_20.x or nvm for 20)" >&2
  exit 1
fi

if [ "${#packages[@]}" -eq 0 ]; then
  echo "host tools: all present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "banger needs these packages: ${packages[*]}" >&2
  echo "install them with: sudo apt-get update && sudo apt-get install -y ${packages[*]}" >&2
  exit 1
fi

echo "installing host tools: ${packages[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
