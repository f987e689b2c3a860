#!/usr/bin/env bash
# Runs every fuzz target in fuzz/fuzz_targets for N seconds each (default 20: what CI runs).
#
#   fuzz/run.sh [SECONDS]                  # or FUZZ_SECONDS=600 fuzz/run.sh: the long run
#   FUZZ_TARGETS="policy pcapng" fuzz/run.sh 60   # only those targets
#
# The long run's last figures are in docs/performance.md ("Fuzzing").
#
# Exits non-zero as soon as a target crashes; the crashing input is kept in
# fuzz/artifacts/TARGET/. The toolchain is stable, so RUSTC_BOOTSTRAP=1 lets
# cargo-fuzz use the nightly-only flags it needs.
#
# SANITIZER picks the sanitizer (default "address"; "none" is faster and
# still catches every panic, since the code under test has no unsafe).
set -euo pipefail

seconds="${1:-${FUZZ_SECONDS:-20}}"
sanitizer="${SANITIZER:-address}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

# fuzz/Cargo.lock is tracked: the targets are built from exactly it. `cargo fuzz` has no
# --locked of its own (rust-fuzz/cargo-fuzz#312) and would silently rewrite a stale lock, so
# the targets are first built with --locked (which fails on a stale lock instead); cargo fuzz
# then finds the lock complete and leaves it as it is.
cargo build --locked --bins

# Seeds for snapshot_decode: the binary form of real summaries, written by the main
# workspace's test (before RUSTC_BOOTSTRAP is set, which would make cargo rebuild everything).
(cd .. && PV_FUZZ_SEEDS="$here/seeds/snapshot_decode" cargo test --release --locked \
    -p pv-pipeline --test wire -- --ignored --exact fuzz_seeds >/dev/null)
# The release binary, which indexes the fixtures into seeds for the segment target.
(cd .. && cargo build --release --locked -p pktvisor-cli --bin pktvisor >/dev/null 2>&1)

export RUSTC_BOOTSTRAP=1
status=0
for source in fuzz_targets/*.rs; do
    target="$(basename "$source" .rs)"
    if [ -n "${FUZZ_TARGETS:-}" ] && [[ " $FUZZ_TARGETS " != *" $target "* ]]; then
        continue
    fi
    echo "== fuzzing $target for ${seconds}s (sanitizer: $sanitizer)" >&2
    mkdir -p "corpus/$target"
    # Seeds: whole-file targets start from the repo's small real captures.
    seeds=()
    if [ "$target" = summarize_file ]; then
        mkdir -p seeds/capture_files
        find ../testdata/fixtures -name '*.pcap' -size -100k -exec cp {} seeds/capture_files/ \;
        seeds=(seeds/capture_files)
    fi
    if [ "$target" = snapshot_decode ]; then
        seeds=(seeds/snapshot_decode)
    fi
    if [ "$target" = dnstap ]; then
        # pktvisor's Frame Streams fixture (knot-resolver's dnstap: 153 messages).
        mkdir -p seeds/dnstap
        cp ../testdata/fixtures/fixture.dnstap seeds/dnstap/
        seeds=(seeds/dnstap)
    fi
    if [ "$target" = flow_export ]; then
        # pktvisor's NetFlow v9 and IPFIX captures, one seed per UDP payload (tshark's hex).
        mkdir -p seeds/flow_export
        for f in nf9 ipfix; do
            i=0
            tshark -r "../testdata/fixtures/$f.pcap" -T fields -e udp.payload 2>/dev/null |
                while read -r hex; do
                    i=$((i + 1))
                    echo "$hex" | xxd -r -p >"seeds/flow_export/$f-$i"
                done
        done
        seeds=(seeds/flow_export)
    fi
    if [ "$target" = pcapng ]; then
        # The small fixtures rewritten as pcapng by editcap (section and interface options).
        mkdir -p seeds/pcapng
        for f in $(find ../testdata/fixtures ../testdata/edge -name '*.pcap' -size -100k); do
            editcap -F pcapng --capture-comment "seed $(basename "$f")" "$f" \
                "seeds/pcapng/$(basename "$f" .pcap).pcapng"
        done
        seeds=(seeds/pcapng)
    fi
    if [ "$target" = segment ]; then
        # Real segments: the small fixtures indexed by the release binary built above.
        mkdir -p seeds/segment
        for f in $(find ../testdata/fixtures -name '*.pcap' -size -100k); do
            cp "$f" "seeds/segment/$(basename "$f")"
        done
        ../target/release/pktvisor index seeds/segment >/dev/null 2>&1
        find seeds/segment -name '*.pcap' -delete
        seeds=(seeds/segment)
    fi
    if [ "$target" = pql ]; then
        # Queries of the README and the tests.
        mkdir -p seeds/pql
        printf '%s' 'Count(Intersect(Row(netsrc="10.0.0.1"), Row(tcp=SYN)))' > seeds/pql/a
        printf '%s' 'TopN(frame=transdst, Row(1000 <= length < 1500), n=3) Rows(dns-qname)' > seeds/pql/b
        printf '%s' 'Sum(Not(Row(transproto=UDP)), field=length) Bitmap(frame=netsrc, rowID=x)' > seeds/pql/c
        seeds=(seeds/pql)
    fi
    if [ "$target" = filter ]; then
        mkdir -p seeds/filter
        printf '%s' 'src host 8.8.8.8 and dns.qname ~ ".test.com"' > seeds/filter/a
        printf '%s' '(udp port 53 and not dns.qtype == AAAA) or tcp[tcpflags] & tcp-syn != 0' > seeds/filter/b
        printf '%s' 'http.user_agent ~ "curl" || !tls.sni == "x.example"' > seeds/filter/c
        seeds=(seeds/filter)
    fi
    if [ "$target" = nftrace ]; then
        # The real netlink datagrams of the golden tests, one seed each.
        mkdir -p seeds/nftrace
        python3 - ../crates/nftrace/tests/data/datagrams.bin seeds/nftrace <<'PY'
import struct, sys
data = open(sys.argv[1], 'rb').read()
at = n = 0
while at + 4 <= len(data):
    (size,) = struct.unpack_from('<I', data, at)
    open(f'{sys.argv[2]}/{n:04}', 'wb').write(data[at + 4:at + 4 + size])
    at += 4 + size
    n += 1
PY
        seeds=(seeds/nftrace)
    fi
    if [ "$target" = policy ]; then
        # Every policy in the repo, good and bad, YAML and JSON.
        mkdir -p seeds/policy
        cp ../testdata/policies/* seeds/policy/
        seeds=(seeds/policy)
    fi
    if ! cargo fuzz run "$target" --sanitizer "$sanitizer" "corpus/$target" "${seeds[@]}" -- \
        -max_total_time="$seconds" -print_final_stats=1; then
        echo "!! $target crashed; see fuzz/artifacts/$target/" >&2
        status=1
        break
    fi
done
exit "$status"
