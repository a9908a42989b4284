//! The director: wires VRRP, IPVS and health checks, applies operator commands, keeps the
//! event log, and publishes a [`snapshot::Snapshot`].

pub mod director;
pub mod ipvs_worker;
pub mod metrics;
pub mod operator_state;
pub mod snapshot;
pub mod status;
pub mod systemd;
