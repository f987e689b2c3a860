#!/usr/bin/env bash
# The whole test suite: installs what it needs, then formatting, lints, unit and integration
# tests (tshark/tcpdump oracles, network-namespace captures when root), and short fuzz runs.
# Under CI=true every test that needs root or a tool must run; elsewhere such tests skip with a
# printed reason.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh test

# A stale lock file (the fuzz crate's too: it builds --locked at the end) fails here, in
# seconds, not after the whole suite.
echo "== lock files"
cargo metadata --locked --format-version 1 >/dev/null
(cd fuzz && cargo metadata --locked --format-version 1 >/dev/null)
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked --release
# 12 s a target: a smoke run of every decoder (14 targets: ~3 min with the build) that keeps
# the suite under its 30-minute budget; the long runs are FUZZ_SECONDS=600 fuzz/run.sh.
echo "== fuzz (${FUZZ_SECONDS:-12} s per target)"
fuzz/run.sh "${FUZZ_SECONDS:-12}"
