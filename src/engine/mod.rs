//! The engine: the one stage that applies every input to the KPI store.
//!
//! Sources send [`Input`](crate::sources::Input)s down one bounded channel; the engine's
//! thread parses line batches with each source's parser, decodes app frames (`apps`),
//! runs every record through the [`rules`], and is the only writer of the
//! KPI store (`kpi::Store`), which it owns outright (no lock). Readers (server, `/metrics`,
//! alerts) receive the immutable snapshots it publishes ([`stage::Published`]); the tailer
//! receives its acknowledgements (offsets applied, with the counter totals that include them)
//! and writes its checkpoints from them. With history on, the acknowledgements travel to the
//! history writer instead, inside a [`ship::Shipment`] with the deltas they include, and reach
//! the tailer once the writer has committed both.

pub(crate) mod apps;
pub(crate) mod clock;
pub mod filter;
mod join;
pub(crate) mod otlp;
pub mod reconfig;
pub mod rules;
mod samples;
pub mod ship;
pub mod stage;

pub use reconfig::Reconfigure;
pub use ship::{ShipSender, Shipment};
pub use stage::{spawn, EngineConfig, EngineHandle, Published};
