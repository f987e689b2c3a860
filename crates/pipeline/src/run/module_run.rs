//! One handler module of a running policy: its key in the output, its deep sampler, its
//! window's size and the handler itself, known only through [`Handler`].

use pv_handlers::{DeepSampler, FlowEvent, Handler, PacketEvent};
use pv_summary::{ModuleRendering, ModuleSnapshot};

pub(crate) struct ModuleRun {
    /// The key in the output: the module's name, or pktvisor's instance name
    /// `POLICY-TAP-MODULE` (always live; in files when the policy has several taps).
    pub(crate) key: String,
    sampler: DeepSampler,
    every_packet_deep: bool,
    /// Buckets kept: the module's `num_periods` (1 when its window is the whole stream).
    pub(crate) periods: usize,
    handler: Box<dyn Handler>,
}

impl ModuleRun {
    pub(crate) fn new(
        key: String,
        deep_sample_percent: u8,
        periods: usize,
        handler: Box<dyn Handler>,
    ) -> ModuleRun {
        ModuleRun {
            key,
            sampler: DeepSampler::new(deep_sample_percent),
            every_packet_deep: deep_sample_percent >= 100,
            periods: periods.max(1),
            handler,
        }
    }

    /// Feeds one packet; returns whether the module keeps it (for a chain).
    #[inline]
    pub(crate) fn process(&mut self, ev: &PacketEvent<'_>, chained: bool) -> bool {
        self.sampled(ev, |h, ev| h.process(ev, chained))
    }

    /// Feeds one DNS message of a dnstap input; returns whether the module keeps it.
    pub(crate) fn dns_message(
        &mut self,
        ev: &PacketEvent<'_>,
        family: &str,
        chained: bool,
    ) -> bool {
        self.sampled(ev, |h, ev| h.dns_message(ev, family, chained))
    }

    /// Feeds one flow datagram's records; returns whether the module keeps them. The module's
    /// deep sampling picks whole datagrams, as pktvisor's `new_event` per datagram does.
    pub(crate) fn flow_datagram(&mut self, ev: &FlowEvent<'_>, chained: bool) -> bool {
        let ev = FlowEvent {
            deep: self.every_packet_deep || self.sampler.sample(),
            ..*ev
        };
        self.handler.flow_datagram(&ev, chained)
    }

    /// Hands the event to the handler, deep or not by the module's own sampling.
    #[inline]
    fn sampled(
        &mut self,
        ev: &PacketEvent<'_>,
        feed: impl FnOnce(&mut dyn Handler, &PacketEvent<'_>) -> bool,
    ) -> bool {
        // The intake marks every packet deep; a module sampling less decides for itself.
        // (Every packet deep is the default: no copy of the event then.)
        if self.every_packet_deep {
            return feed(self.handler.as_mut(), ev);
        }
        let ev = PacketEvent {
            deep: self.sampler.sample(),
            ..*ev
        };
        feed(self.handler.as_mut(), &ev)
    }

    pub(crate) fn clock(&mut self, sec: u64) {
        self.handler.clock(sec);
    }

    pub(crate) fn tick(&mut self, sec: u64) {
        self.handler.tick(sec);
    }

    pub(crate) fn capture_drops(&mut self, sec: u64, drops: pv_handlers::CaptureDrops) {
        self.handler.capture_drops(sec, drops);
    }

    pub(crate) fn last_event_ns(&self) -> Option<u64> {
        self.handler.last_event_ns()
    }

    pub(crate) fn end_of_input_at(&mut self, end_ns: Option<u64>) {
        self.handler.end_of_input_at(end_ns);
    }

    pub(crate) fn snapshot(&self, newest: usize) -> ModuleSnapshot {
        ModuleSnapshot {
            key: self.key.clone(),
            type_name: self.handler.type_name(),
            buckets: self.handler.buckets(newest),
            health: self.handler.health(),
            whole_stream: self.periods <= 1,
        }
    }

    /// As [`ModuleRun::snapshot`] of every bucket, the buckets moved out of the handler.
    pub(crate) fn take_snapshot(&mut self) -> ModuleSnapshot {
        ModuleSnapshot {
            key: self.key.clone(),
            type_name: self.handler.type_name(),
            buckets: self.handler.take_buckets(),
            health: self.handler.health(),
            whole_stream: self.periods <= 1,
        }
    }

    pub(crate) fn rendering(&self) -> ModuleRendering {
        ModuleRendering {
            key: self.key.clone(),
            render: self.handler.render(),
            periods: self.periods,
        }
    }
}
