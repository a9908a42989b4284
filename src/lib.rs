//! lvsdeck: a VRRP + IPVS director with an operator's console.
//!
//! The module map and conventions are in the project's design notes; each module's
//! own docs say what it owns.

pub mod atomic_file;
pub mod bfd;
pub mod bgp;
pub mod config;
pub mod control;
pub mod doctor;
pub mod engine;
pub mod health;
pub mod ipvs;
pub mod lab;
pub mod snapshot;
pub mod systemd;
pub mod tui;
pub mod vrrp;
