//! `pktvisord`: the agent. Everything it does is in the library (`agent_cmd`).

fn main() -> std::process::ExitCode {
    pktvisor_cli::agent_cmd::main()
}
