//! Stream handlers: they turn decoded packets into windowed metrics and own the names under
//! which those metrics are published (pktvisor's JSON keys).

pub mod dhcp;
pub mod dns;
pub mod event;
pub mod flow;
pub mod frame;
pub mod geo;
pub mod hostspec;
pub mod json;
pub mod metric;
pub mod module;
pub mod net;
pub mod pcap;
pub mod registry;
pub mod sampler;
pub mod top_threshold;
pub mod windowed;

pub use event::{CaptureDrops, Direction, FlowEvent, PacketEvent};
pub use hostspec::{HostSpec, HostSpecError};
pub use module::{BuildContext, Handler, HandlerKind, ModuleBucket, Render};
pub use net::{NetBucket, NetHandler};
pub use pv_sketch::window::{Boundaries, WindowSpec};
pub use sampler::DeepSampler;
pub use windowed::{ErasedWindow, Windowed};
