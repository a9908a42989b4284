//! One file per operator command: the words it takes (one parser for `lvsdeck ctl` and the
//! console's `:` line), how it is described (the event log, the audit, the console's status
//! line), what its confirm dialog shows and when the console refuses it outright, and the
//! rule by which it names its target (the director resolves it against the configuration,
//! the console against the Snapshot, by the same rule). The wire form is
//! [`protocol::Command`](super::protocol::Command).

pub mod clear;
pub mod director;
pub mod doctor;
pub mod drain;
pub mod handover;
pub mod priority;
pub mod reload;
pub mod weight;

pub use super::protocol::{Command, RealTarget};
use crate::snapshot::{RealView, ServiceView, VrrpView, endpoint};

/// A confirm dialog's content: its title, label / value lines (the target and the old → new
/// value), a note on what follows, and the command it sends once confirmed.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirmation {
    pub title: String,
    pub lines: Vec<(String, String)>,
    pub note: Option<String>,
    pub command: Command,
}

impl Command {
    /// A short human description, for the event log, the audit and confirm dialogs.
    pub fn describe(&self) -> String {
        match self {
            Command::Drain { target } => drain::describe(target, true),
            Command::Undrain { target } => drain::describe(target, false),
            Command::Weight { target, weight } => weight::describe(target, *weight),
            Command::Priority { instance, priority } => priority::describe(instance, *priority),
            Command::Handover { instance } => handover::describe(instance),
            Command::Reload => reload::describe(),
            Command::Clear => clear::describe(),
            Command::Doctor => doctor::describe(),
            Command::DrainDirector => director::describe(true),
            Command::UndrainDirector => director::describe(false),
        }
    }
}

/// A value that `clear` (or nothing) clears: `N`, `clear` or an empty string. The refusal
/// fits the console's input dialog.
fn parse_clearable<T: std::str::FromStr + PartialOrd>(
    text: &str,
    range: std::ops::RangeInclusive<T>,
    what: &str,
    bounds: &str,
) -> Result<Option<T>, String> {
    let text = text.trim();
    if text.is_empty() || text == "clear" {
        return Ok(None);
    }
    match text.parse::<T>() {
        Ok(v) if range.contains(&v) => Ok(Some(v)),
        _ => Err(format!(
            "\"{text}\" is not {what}: give {bounds}, or nothing to clear"
        )),
    }
}

/// Whether `wanted` names the service: its key as `ipvsadm -Ln` heads it or as the daemon
/// writes it (spaces do not matter: `TCP  192.0.2.1:80`, `TCP 192.0.2.1:80`), or its address
/// alone (`192.0.2.1:80`).
pub fn names_service(key: &str, wanted: &str) -> bool {
    let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    norm(key) == norm(wanted) || key.split_whitespace().nth(1) == Some(wanted.trim())
}

/// Whether `wanted` names the real server at `address` / `port`: `10.0.0.11:80`,
/// `[fd00::1]:80`, or the address alone.
pub fn names_real(address: &str, port: u16, wanted: &str) -> bool {
    endpoint(address, port) == wanted || address == wanted.trim_matches(['[', ']'])
}

/// The target of a real server as the Snapshot shows it.
pub fn target(service: &ServiceView, real: &RealView) -> RealTarget {
    RealTarget {
        service: service.key.clone(),
        real: endpoint(&real.address, real.port),
    }
}

/// The lines every real server's dialog starts with.
pub fn real_lines(service: &ServiceView, real: &RealView) -> Vec<(String, String)> {
    let r = real;
    vec![
        ("service".into(), service.key.clone()),
        ("real server".into(), endpoint(&r.address, r.port)),
        (
            "now".into(),
            format!(
                "weight {} (configured {}), {}, {} active / {} inactive",
                r.weight, r.configured_weight, r.health, r.active_conns, r.inactive_conns
            ),
        ),
    ]
}

/// The lines every VRRP instance's dialog starts with.
pub fn vrrp_lines(v: &VrrpView) -> Vec<(String, String)> {
    let held = if v.holds_vips {
        "held here"
    } else {
        "not held here"
    };
    vec![
        (
            "instance".into(),
            format!("{} ({} vrid {})", v.name, v.interface, v.vrid),
        ),
        (
            "state".into(),
            format!("{}, VIPs {} {held}", v.state, v.vips.join(" ")),
        ),
    ]
}

/// The weight a real server has now as the operator thinks of it: the override, else what
/// the table has, else the configured one.
pub fn current_weight(r: &RealView) -> u32 {
    match &r.weight_override {
        Some(o) => o.value,
        None if r.in_table => r.weight,
        None => r.configured_weight,
    }
}

#[cfg(test)]
mod tests;
