# The lab of the live scripts, sourced by them (the Rust tests have theirs in
# crates/cli/tests/lab): two network namespaces joined by a veth pair, `va` in $LAB_A and
# `vb` in $LAB_B, with their loopbacks up and IPv6 off on the pair.
#
#   source scripts/netns_lab.sh
#   lab_up TAG [--mtu N] [--addresses]    # --mtu: default 9000, so jumbo frames replay whole;
#                                         # --addresses: 198.51.100.1/24 on va, .2/24 on vb
#   ...                                   # ip netns exec "$LAB_B" ...
#   lab_down                              # deletes both namespaces (call it from the EXIT trap)
#   LAB_PIDS+=("$pid"); lab_cleanup       # or: stops those processes by PID, then lab_down
#
# The namespaces are named pv{TAG}a{PID} and pv{TAG}b{PID}; only those are ever deleted.

LAB_A=""
LAB_B=""
LAB_PIDS=()

lab_up() {
    local tag=$1 mtu=9000 addresses=0
    shift
    while (($#)); do
        case $1 in
            --mtu) mtu=$2; shift 2 ;;
            --addresses) addresses=1; shift ;;
            *) echo "lab_up: unknown option $1" >&2; return 2 ;;
        esac
    done
    LAB_A="pv${tag}a$$"
    LAB_B="pv${tag}b$$"
    ip netns add "$LAB_A"
    ip netns add "$LAB_B"
    ip link add va netns "$LAB_A" mtu "$mtu" type veth peer name vb netns "$LAB_B" mtu "$mtu"
    ip netns exec "$LAB_A" sysctl -qw net.ipv6.conf.va.disable_ipv6=1
    ip netns exec "$LAB_B" sysctl -qw net.ipv6.conf.vb.disable_ipv6=1
    if ((addresses)); then
        ip -n "$LAB_A" addr add 198.51.100.1/24 dev va
        ip -n "$LAB_B" addr add 198.51.100.2/24 dev vb
    fi
    ip -n "$LAB_A" link set lo up
    ip -n "$LAB_B" link set lo up
    ip -n "$LAB_A" link set va up
    ip -n "$LAB_B" link set vb up
}

lab_down() {
    if [[ -n $LAB_A ]]; then ip netns del "$LAB_A" 2>/dev/null || true; fi
    if [[ -n $LAB_B ]]; then ip netns del "$LAB_B" 2>/dev/null || true; fi
}

# Stops the processes in LAB_PIDS (by PID; started by the script), waits for them, and
# deletes the namespaces.
lab_cleanup() {
    local p
    for p in "${LAB_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${LAB_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    lab_down
}
