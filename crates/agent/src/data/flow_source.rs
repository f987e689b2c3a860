//! The live flow taps of a `--config` file (`input_type: flow` with `bind` and `port`): a UDP
//! listener per tap (`pv_pipeline::flow::listen`), whose datagrams go to the workers like
//! packets do — every datagram of one exporter to the same worker (sharded by its address), so
//! that the templates it sends are at hand when its data comes.

use crate::control::error::AgentError;
use crate::worker::{Msg, Worker};
use pv_pipeline::flow::listen::FlowListener;
use pv_pipeline::pv_policy::PolicyFile;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::thread::JoinHandle;

/// A running listener: its tap and address.
pub struct FlowTap {
    pub tap: String,
    pub at: SocketAddr,
    pub thread: JoinHandle<u64>,
}

/// Whether a tap listens for flows (a flow tap with a `pcap_file` is read by
/// `pktvisor summarize --config`).
pub fn listens(tap: &pv_pipeline::pv_policy::Tap) -> bool {
    tap.input_type == "flow" && tap.config.opt_str("pcap_file").ok().flatten().is_none()
}

fn shard(sender: IpAddr, workers: usize) -> usize {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    sender.hash(&mut h);
    (h.finish() % workers.max(1) as u64) as usize
}

/// Starts a listener for every live flow tap of `file`.
pub fn start(
    file: &PolicyFile,
    workers: &[Worker],
    stop: &Arc<AtomicBool>,
) -> Result<Vec<FlowTap>, AgentError> {
    let mut started = Vec::new();
    for tap in file.taps.iter().filter(|t| listens(t)) {
        let fail =
            |m: String| AgentError::Start(format!("{}: tap '{}': {m}", file.source, tap.name));
        if let Some(t) = tap.config.opt_str("flow_type").ok().flatten() {
            pv_pipeline::flow::check_flow_type(t).map_err(fail)?;
        }
        let bind = tap.config.opt_str("bind").ok().flatten();
        let port = tap.config.opt_u64("port").ok().flatten();
        let (Some(bind), Some(port)) = (bind, port) else {
            return Err(fail("flow config must specify port and bind".to_string()));
        };
        let listener = FlowListener::bind(bind, port).map_err(|e| fail(e.to_string()))?;
        let at = listener.local_addr().map_err(|e| fail(e.to_string()))?;
        let senders: Vec<_> = workers.iter().map(Worker::sender).collect();
        let name: Arc<str> = Arc::from(tap.name.as_str());
        let stop = stop.clone();
        let thread = std::thread::Builder::new()
            .name("pv-flow".into())
            .spawn(move || {
                listener.run(&stop, |ts_ns, sender, datagram| {
                    if let Some(tx) = senders.get(shard(sender, senders.len())) {
                        // Waiting for room holds this listener back; the kernel's socket
                        // buffer absorbs a burst meanwhile (and drops past it, as for any
                        // UDP receiver).
                        let _ = tx.send(Msg::Flow {
                            tap: name.clone(),
                            ts_ns,
                            sender,
                            datagram: datagram.to_vec(),
                        });
                    }
                })
            })
            .map_err(|e| fail(format!("cannot start the flow listener thread: {e}")))?;
        eprintln!(
            "pktvisord: tap '{}': listening for flows on udp {at}",
            tap.name
        );
        started.push(FlowTap {
            tap: tap.name.clone(),
            at,
            thread,
        });
    }
    Ok(started)
}
