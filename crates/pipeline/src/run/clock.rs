//! The stream's clock: every module of a policy moves with it.

use super::module_run::ModuleRun;

/// The packet time a policy's modules have been moved to: every module's window moves with
/// the stream, so that all of them rotate at the same packet, whichever of them sees it (a
/// chain's later modules and the dns handler see only some packets), and every worker reading
/// a shard of one file rotates where a single reader would. One comparison a packet; the
/// modules are called once a second of packet time.
#[derive(Debug, Default)]
pub(crate) struct StreamClock {
    sec: Option<u64>,
}

impl StreamClock {
    #[inline]
    pub(crate) fn packet(&mut self, ts_ns: u64, modules: &mut [ModuleRun]) {
        let sec = ts_ns / 1_000_000_000;
        if self.sec.is_none_or(|s| sec > s) {
            self.sec = Some(sec);
            modules.iter_mut().for_each(|m| m.clock(sec));
        }
    }
}
