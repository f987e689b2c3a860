# Sourced by the benchmark scripts that time pktvisor against other tools on one capture file
# (search_vs_tcpdump.sh, record_vs_tcpdump.sh, summary_vs_tcpdump_tshark.sh): their
# arguments `FILE [PKTVISOR_BIN]`, the checks on them, and the tools they need.

die() { echo "bench: error: $*" >&2; exit 1; }

# bench_args DEFAULT_RUNS "$@": sets FILE, REPO, BIN (default target/release/pktvisor) and RUNS
# (env RUNS, else DEFAULT_RUNS), and stops with one line when any cannot be used.
bench_args() {
    local default_runs=$1
    shift
    [[ $# -ge 1 && $# -le 2 ]] || die "usage: $0 FILE [PKTVISOR_BIN]"
    FILE=$1
    REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    BIN=${2:-$REPO/target/release/pktvisor}
    RUNS=${RUNS:-$default_runs}
    [[ -r $FILE ]] || die "cannot read $FILE"
    [[ -x $BIN ]] || die "$BIN is not built (cargo build --release)"
    [[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer"
}

# need_tools TOOL...: stops when one is not on PATH (TOOLS_HINT, if set, says how to install).
need_tools() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || die "'$t' not found${TOOLS_HINT:+ ($TOOLS_HINT)}"
    done
}
