#!/usr/bin/env bash
# Installs the Debian packages the build and the test suite need, only if some are missing.
# Usage: scripts/install-deps.sh [build|test]   (default: test)
set -euo pipefail
build_pkgs=(libpcap-dev pkg-config)
test_pkgs=(tcpdump tshark tcpreplay iproute2 unbound dnsperf knot-dnsutils nginx curl
           iputils-ping python3 time ethtool tmux openssl zstd gzip nftables clickhouse-server
           dnstap-ldns fstrm-bin dnsmasq-base udhcpc softflowd pmacct)
pkgs=("${build_pkgs[@]}")
[ "${1:-test}" = test ] && pkgs+=("${test_pkgs[@]}")

# The GeoIP tests check our lookups against MaxMind's own Python reader.
python_deps() {
  python3 -c 'import maxminddb' 2>/dev/null && return 0
  echo "install-deps: installing the python maxminddb reader" >&2
  python3 -m pip install --quiet maxminddb 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages maxminddb
}

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  [ "${1:-test}" = test ] && python_deps
  exit 0
fi

sudo=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
[ "${1:-test}" = test ] && python_deps
exit 0
