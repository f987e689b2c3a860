//! A worker thread: owns its copy of every running policy (the command line's `default` and
//! those added at runtime: their handlers and windows), and is the only one to touch them, so
//! the packet path takes no lock. Readers ask for copies, and the admin API adds and removes
//! policies, through the same queue: a request queued after a change sees it.

use crate::batch::Batch;
use pv_pipeline::{LinkCache, PolicyRun, PolicySnapshot};
use std::sync::mpsc::{Receiver, Sender, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

/// Batches a worker may have queued before the capture thread drops new ones (counted).
pub const QUEUE_BATCHES: usize = 256;

pub enum Msg {
    Packets(Batch),
    /// A data frame of a dnstap tap (a dnstap protobuf message), for the policies reading it.
    Dnstap {
        tap: std::sync::Arc<str>,
        frame: Vec<u8>,
    },
    /// A datagram a flow tap's listener received (NetFlow, IPFIX or sFlow), for the policies
    /// reading that tap.
    Flow {
        tap: std::sync::Arc<str>,
        ts_ns: u64,
        sender: std::net::IpAddr,
        datagram: Vec<u8>,
    },
    /// Wall-clock second: windows rotate even when no packet arrives.
    Tick(u64),
    /// The live capture's drop totals at a wall-clock second (to worker 0 only, so that the
    /// pcap handler's merged buckets count each drop once).
    CaptureDrops(u64, pv_handlers::CaptureDrops),
    /// A reader wants copies of these policies' newest `usize` buckets, in this order (None
    /// for a name the worker does not run).
    Snapshots(Vec<String>, usize, Sender<Vec<Option<PolicySnapshot>>>),
    /// Start running this policy on the packets that follow.
    AddPolicy(Box<PolicyRun>),
    /// Stop running the policy of this name and free it.
    RemovePolicy(String),
    /// Everything queued before this is processed; the worker ends.
    Stop,
}

pub struct Worker {
    tx: SyncSender<Msg>,
    join: JoinHandle<()>,
}

/// Why a batch was not queued.
pub enum SendFailure {
    /// The worker is behind: the batch was dropped.
    Full(Batch),
    /// The worker is gone.
    Gone,
}

impl Worker {
    /// A worker running `policies` (the command line's first, while it runs); processed
    /// batches go back through `returns`, emptied.
    pub fn spawn(
        index: usize,
        policies: Vec<PolicyRun>,
        returns: Sender<Batch>,
    ) -> std::io::Result<Worker> {
        let (tx, rx) = sync_channel(QUEUE_BATCHES);
        let join = std::thread::Builder::new()
            .name(format!("pv-worker-{index}"))
            .spawn(move || run(policies, rx, returns))?;
        Ok(Worker { tx, join })
    }

    /// Queues a batch without waiting (the capture thread must never block on a worker).
    pub fn try_send(&self, batch: Batch) -> Result<(), SendFailure> {
        match self.tx.try_send(Msg::Packets(batch)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(Msg::Packets(b))) => Err(SendFailure::Full(b)),
            Err(_) => Err(SendFailure::Gone),
        }
    }

    /// Queues a clock tick without waiting; false if the queue is full (the tick is then
    /// given again later: the capture thread never waits for a worker).
    pub fn try_tick(&self, sec: u64) -> bool {
        !matches!(self.tx.try_send(Msg::Tick(sec)), Err(TrySendError::Full(_)))
    }

    /// Queues the capture's drop totals without waiting; a full queue skips this reading (the
    /// next one carries the totals).
    pub fn try_capture_drops(&self, sec: u64, drops: pv_handlers::CaptureDrops) {
        let _ = self.tx.try_send(Msg::CaptureDrops(sec, drops));
    }

    /// Queues a message, waiting for room (snapshot requests, the last batches).
    pub fn send(&self, msg: Msg) -> bool {
        self.tx.send(msg).is_ok()
    }

    pub fn sender(&self) -> SyncSender<Msg> {
        self.tx.clone()
    }

    /// Ends the worker once what is queued is processed.
    pub fn join(self) {
        let _ = self.tx.send(Msg::Stop);
        let _ = self.join.join();
    }
}

fn run(mut policies: Vec<PolicyRun>, rx: Receiver<Msg>, returns: Sender<Batch>) {
    // The clock's last second: a policy added later starts its live bucket there at once.
    let mut last_tick = None;
    // The last drop totals: a policy added later takes them as its base.
    let mut last_drops = None;
    let mut links = LinkCache::default();
    // One decoder (template cache) per flow tap: an exporter's datagrams all come to one
    // worker (sharded by its address), so its templates are here when its data comes.
    let mut flow_decoders: std::collections::HashMap<
        std::sync::Arc<str>,
        pv_pipeline::flow::FlowDecoder,
    > = std::collections::HashMap::new();
    for msg in rx {
        match msg {
            Msg::Packets(mut batch) => {
                for p in batch.iter() {
                    // Decoded once, at the first policy that keeps it, for all of them.
                    let mut shared = links.packet(&p);
                    for policy in &mut policies {
                        policy.live_packet(&mut shared);
                    }
                }
                batch.clear();
                // The capture thread may be gone (shutting down): the batch is then freed.
                let _ = returns.send(batch);
            }
            Msg::Dnstap { tap, frame } => {
                let message = pv_wire::dnstap::Dnstap::parse(&frame);
                for policy in &mut policies {
                    if policy.reads_dnstap() && policy.input().tap == *tap {
                        match &message {
                            Ok(m) => policy.dnstap(&m.message),
                            Err(_) => policy.dnstap_skipped(),
                        }
                    }
                }
            }
            Msg::Flow {
                tap,
                ts_ns,
                sender,
                datagram,
            } => {
                let decoder = flow_decoders.entry(tap.clone()).or_default();
                for policy in &mut policies {
                    if policy.reads_flow() && policy.input().tap == *tap {
                        policy.flow_received(ts_ns, sender, &datagram, decoder);
                    }
                }
            }
            Msg::Tick(sec) => {
                last_tick = Some(sec);
                policies.iter_mut().for_each(|p| p.tick(sec));
            }
            Msg::CaptureDrops(sec, drops) => {
                last_drops = Some((sec, drops));
                for policy in policies.iter_mut().filter(|p| !p.reads_dnstap()) {
                    policy.capture_drops(sec, drops);
                }
            }
            Msg::Snapshots(names, newest, reply) => {
                let copies = names
                    .iter()
                    .map(|name| {
                        policies
                            .iter()
                            .find(|p| p.name() == name)
                            .map(|p| p.snapshot_newest(newest))
                    })
                    .collect();
                let _ = reply.send(copies);
            }
            Msg::AddPolicy(mut policy) => {
                if let Some(sec) = last_tick {
                    policy.tick(sec);
                }
                if let Some((sec, drops)) = last_drops
                    && !policy.reads_dnstap()
                {
                    policy.capture_drops(sec, drops);
                }
                policies.push(*policy);
            }
            Msg::RemovePolicy(name) => policies.retain(|p| p.name() != name),
            Msg::Stop => break,
        }
    }
}
