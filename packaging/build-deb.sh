#!/usr/bin/env bash
# Builds the Debian package of pktvisor: both binaries (debug info stripped), the systemd unit,
# the default configuration, and a `pktvisor` system user made on install.
# Usage: packaging/build-deb.sh [OUT_DIR] [BIN_DIR]   (defaults: target/debian, target/release;
# run `cargo build --release --locked` first).
#
# Built with dpkg-deb from a staged tree rather than cargo-deb: the package is small enough to
# write by hand, and CI then compiles no packaging tool (cargo-deb is ~2 minutes of build on
# this 2-core machine, every run).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/target/debian}"
bins="${2:-$root/target/release}"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -1)"
arch="$(dpkg --print-architecture)"
for b in pktvisord pktvisor; do
  [ -x "$bins/$b" ] || { echo "build-deb: $bins/$b is missing: run cargo build --release --locked" >&2; exit 1; }
done

# The library packages the binaries link, as this system names them (libpcap0.8, or
# libpcap0.8t64 on newer releases), so the package installs where it was built.
depends="$(for lib in $(ldd "$bins/pktvisord" "$bins/pktvisor" | awk '/=> \//{print $3}' | sort -u); do
  dpkg-query -S "$(readlink -f "$lib")" 2>/dev/null || dpkg-query -S "$lib" 2>/dev/null
done | cut -d: -f1 | sort -u | paste -sd, | sed 's/,/, /g')"

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage"
install -d "$stage/DEBIAN" "$stage/usr/bin" "$stage/lib/systemd/system" \
  "$stage/etc/pktvisor" "$stage/etc/default" "$stage/usr/share/doc/pktvisor"
for b in pktvisord pktvisor; do
  strip --strip-debug -o "$stage/usr/bin/$b" "$bins/$b"
  chmod 0755 "$stage/usr/bin/$b"
done
install -m 0644 "$root/packaging/pktvisord.service" "$stage/lib/systemd/system/pktvisord.service"
install -m 0644 "$root/packaging/pktvisord.yaml" "$stage/etc/pktvisor/pktvisord.yaml"
install -m 0644 "$root/packaging/pktvisord.default" "$stage/etc/default/pktvisord"
install -m 0644 "$root/README.md" "$stage/usr/share/doc/pktvisor/README.md"
install -m 0644 "$root/packaging/copyright" "$stage/usr/share/doc/pktvisor/copyright"
for s in postinst prerm postrm; do
  install -m 0755 "$root/packaging/debian/$s" "$stage/DEBIAN/$s"
done
printf '/etc/pktvisor/pktvisord.yaml\n/etc/default/pktvisord\n' > "$stage/DEBIAN/conffiles"
size="$(du -sk --exclude=DEBIAN "$stage" | cut -f1)"
cat > "$stage/DEBIAN/control" <<CONTROL
Package: pktvisor
Version: $version
Architecture: $arch
Maintainer: pktvisor (Rust) engineers <pktvisor@localhost>
Installed-Size: $size
Depends: $depends, adduser
Recommends: nftables
Section: net
Priority: optional
Description: network traffic and DNS visibility: summaries, recording, index, traces
 pktvisord summarizes packet and DNS traffic in time windows (pktvisor's REST API, Prometheus),
 records it with flow cutoff and rotation, indexes every packet for queries, and collects
 nftables traces. pktvisor is its client: terminal UI, file summaries, queries, the hub.
CONTROL
mkdir -p "$out"
deb="$out/pktvisor_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zgzip --build "$stage" "$deb" >/dev/null
echo "$deb"
