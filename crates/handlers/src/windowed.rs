//! What every handler does alike with its window of buckets, written once.
//!
//! A handler keeps its buckets in a [`BucketWindow`] and renders them with its configuration.
//! It says which window and which configuration ([`Windowed`]); the engine's view of the
//! window ([`ErasedWindow`]: copies of the buckets, type-erased, moving them out at the end,
//! the clock, the renderer, the type name) follows from that by the blanket impl below, and
//! [`crate::module::Handler`]'s default `clock`/`tick` move the window. A handler's `kind.rs`
//! is then left with what differs: its registry entry, its build function and its hooks.

use crate::module::{ModuleBucket, Render, WireBucket, downcast, erase};
use pv_sketch::window::{TimeBucket, WindowSpec};
use pv_sketch::{Bucket, Window};
use serde_json::Value;
use std::sync::Arc;

/// A window of a handler's buckets; a new bucket is its type's default.
pub type BucketWindow<B> = Window<B, fn() -> B>;

/// A window of empty `B` buckets.
pub fn window<B: Bucket + Clone + Default>(spec: WindowSpec) -> BucketWindow<B> {
    Window::new(spec, B::default as fn() -> B)
}

/// A handler's window of buckets and the configuration that renders them.
pub trait Windowed: Send {
    /// The handler's bucket; its [`WireBucket::TYPE_NAME`] is the handler's policy type name.
    type Bucket: Bucket + ModuleBucket + WireBucket + Clone;
    /// What renders the buckets (the handler's configuration).
    type Config: Render + Clone + 'static;

    fn window(&self) -> &BucketWindow<Self::Bucket>;
    fn window_mut(&mut self) -> &mut BucketWindow<Self::Bucket>;
    fn config(&self) -> &Self::Config;

    /// The newest `n` buckets merged.
    fn merged(&self, n: usize) -> Option<TimeBucket<Self::Bucket>> {
        self.window().merged(n)
    }
}

/// A handler's window as the engine sees it, whatever its bucket type.
pub trait ErasedWindow {
    /// Copies of the newest `newest` buckets held, newest (live) first.
    fn buckets(&self, newest: usize) -> Vec<TimeBucket<Box<dyn ModuleBucket>>>;

    /// Every bucket, newest first, moved out (the handler is done: a file's summary), so
    /// that the sketches are not copied.
    fn take_buckets(&mut self) -> Vec<TimeBucket<Box<dyn ModuleBucket>>>;

    /// The window's time reached `sec`: buckets before it close.
    fn advance_to(&mut self, sec: u64);

    /// How this handler's buckets render.
    fn render(&self) -> Arc<dyn Render>;

    /// The handler's policy type name (its [`crate::HandlerKind::type_name`]): snapshots
    /// carry it so that a reader of their binary form finds the decoder.
    fn type_name(&self) -> &'static str;
}

impl<W: Windowed> ErasedWindow for W {
    fn buckets(&self, newest: usize) -> Vec<TimeBucket<Box<dyn ModuleBucket>>> {
        erase(self.window().buckets().take(newest).cloned())
    }

    fn take_buckets(&mut self) -> Vec<TimeBucket<Box<dyn ModuleBucket>>> {
        erase(self.window_mut().take_buckets())
    }

    fn advance_to(&mut self, sec: u64) {
        self.window_mut().advance_to(sec);
    }

    fn render(&self) -> Arc<dyn Render> {
        Arc::new(self.config().clone())
    }

    fn type_name(&self) -> &'static str {
        <W::Bucket as WireBucket>::TYPE_NAME
    }
}

/// A [`Render::to_json`] body: `to_json` of the bucket if it is a `B`, else of an empty `B`
/// (a period in which the handler saw nothing renders as its empty bucket).
pub fn render_as<B: Default + 'static>(
    bucket: Option<&dyn ModuleBucket>,
    to_json: impl FnOnce(&B) -> Value,
) -> Value {
    match downcast::<B>(bucket) {
        Some(b) => to_json(b),
        None => to_json(&B::default()),
    }
}
