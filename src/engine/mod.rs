//! The director: wires VRRP, IPVS and health checks, applies operator commands, keeps the
//! event log, and publishes a [`snapshot::Snapshot`].

pub mod core;
pub mod director;
pub mod ipvs_worker;
pub mod metrics;
pub mod operator_state;
pub mod status;

// The view model and systemd's notifications live beside the engines (the VRRP runner and
// the control protocol use them too); their old paths stay.
pub use crate::snapshot;
pub use crate::systemd;
