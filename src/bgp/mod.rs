//! BGP announcements of virtual services' addresses through BIRD 2 (`[bgp]`).
//!
//! The pure part: which addresses this director announces now and why
//! ([`wanted`]), and the configuration fragment BIRD includes ([`fragment`]). The shell
//! ([`worker`]) writes the fragment, asks BIRD to read it again over its control socket
//! ([`bird`]), holds the addresses on `lo`, and reads back the sessions' states.
//!
//! Rules (the data path first):
//! - an address is announced while at least one announced service on it has quorum and the
//!   director is neither drained nor stopping. "At least one": a router sends every port of
//!   the address here, so withdrawing it for one port's lost quorum would cut the ports that
//!   still work; losing every service's quorum is what means "send this traffic elsewhere";
//! - a stop withdraws first, waits `withdraw_wait` for the routers to converge while still
//!   forwarding what arrives, and only then stops (make-before-break);
//! - the fragment on disk is always what should be announced, so a BIRD restarted on its own
//!   announces exactly that and nothing stale.

pub mod bird;
pub mod worker;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;

use crate::config::model::{Bgp, Config, IpNet};
use crate::ipvs::table::VsId;

/// Why an address is or is not announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    Announced,
    /// No announced service on the address has quorum (the services named).
    QuorumLost(Vec<String>),
    /// The operator drained the whole director (`ctl drain-director`).
    Drained {
        by: String,
    },
    /// The director is stopping: withdrawn before the engines stop.
    Stopping,
    /// Not announced before the first health checks of its services have answered.
    Starting,
}

impl Why {
    pub fn announced(&self) -> bool {
        *self == Why::Announced
    }
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Why::Announced => f.write_str("announced"),
            Why::QuorumLost(services) => {
                write!(f, "withdrawn: quorum lost on {}", services.join(", "))
            }
            Why::Drained { by } => write!(f, "withdrawn: director drained by {by}"),
            Why::Stopping => f.write_str("withdrawn: stopping"),
            Why::Starting => f.write_str("not yet: waiting for the first health checks"),
        }
    }
}

/// What the director decides about its addresses.
#[derive(Debug, Clone, Copy)]
pub struct DirectorState<'a> {
    /// Who drained the director, if it is drained.
    pub drained_by: Option<&'a str>,
    pub stopping: bool,
}

/// Every address of an announced service, with whether it is announced now and why.
/// `quorum_up` answers for a service; `None` while its first health checks have not all
/// answered (a director just started attracts no traffic it may not be able to serve).
pub fn wanted(
    config: &Config,
    quorum_up: impl Fn(&VsId) -> Option<bool>,
    state: DirectorState<'_>,
) -> BTreeMap<IpNet, Why> {
    #[derive(Default)]
    struct Services {
        any_up: bool,
        pending: bool,
        down: Vec<String>,
    }
    let mut by_address: BTreeMap<IpNet, Services> = BTreeMap::new();
    for vs in config.virtual_server.iter().filter(|vs| vs.announce) {
        let Some(ip) = vs.ip else { continue };
        let id = VsId::of(vs);
        let entry = by_address.entry(IpNet::host(ip)).or_default();
        match quorum_up(&id) {
            Some(true) => entry.any_up = true,
            Some(false) => entry.down.push(id.0),
            None => entry.pending = true,
        }
    }
    by_address
        .into_iter()
        .map(|(net, s)| {
            let why = if state.stopping {
                Why::Stopping
            } else if let Some(by) = state.drained_by {
                Why::Drained { by: by.to_string() }
            } else if s.any_up {
                Why::Announced
            } else if s.pending {
                Why::Starting
            } else {
                Why::QuorumLost(s.down)
            };
            (net, why)
        })
        .collect()
}

/// The names lvsdeck gives its protocols in BIRD (shown by `birdc show protocols`).
pub const STATIC_V4: &str = "lvsdeck_vip4";
pub const STATIC_V6: &str = "lvsdeck_vip6";
pub const BFD: &str = "lvsdeck_bfd";

/// The BGP protocol's name for neighbour `index` (BIRD names are identifiers).
pub fn session_name(index: usize) -> String {
    format!("lvsdeck_r{}", index + 1)
}

/// The BIRD configuration lvsdeck owns: one static protocol per family holding the announced
/// addresses, one BGP session per neighbour exporting only those, importing nothing (a
/// director routes nothing it learns), and a BFD protocol when a session asks for it.
pub fn fragment(bgp: &Bgp, announced: impl IntoIterator<Item = IpNet>, source: &str) -> String {
    let (v4, v6): (Vec<IpNet>, Vec<IpNet>) = announced.into_iter().partition(|n| n.addr.is_ipv4());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Written by lvsdeck from the [bgp] section of {source}; rewritten at every change.\n\
         # Include it at the top level of bird.conf: include \"<this file>\";"
    );
    if let Some(id) = bgp.router_id {
        let _ = writeln!(out, "router id {id};");
    }
    for (name, channel, nets) in [(STATIC_V4, "ipv4", &v4), (STATIC_V6, "ipv6", &v6)] {
        let _ = writeln!(out, "protocol static {name} {{\n\t{channel};");
        for n in nets {
            let _ = writeln!(out, "\troute {}/{} blackhole;", n.addr, n.prefix);
        }
        out.push_str("}\n");
    }
    if bgp.neighbor.iter().any(|n| n.bfd) {
        let ms = bgp.bfd_interval.0.as_millis();
        let _ = writeln!(
            out,
            "protocol bfd {BFD} {{\n\tinterface \"*\" {{\n\t\tmin rx interval {ms} ms;\n\t\t\
             min tx interval {ms} ms;\n\t\tmultiplier {};\n\t}};\n}}",
            bgp.bfd_multiplier
        );
    }
    let hold = bgp.hold_time.0.as_secs().max(3);
    for (i, n) in bgp.neighbor.iter().enumerate() {
        let (channel, filter) = match n.address {
            IpAddr::V4(_) => ("ipv4", STATIC_V4),
            IpAddr::V6(_) => ("ipv6", STATIC_V6),
        };
        let _ = writeln!(out, "protocol bgp {} {{", session_name(i));
        match n.source_address {
            Some(src) => {
                let _ = writeln!(out, "\tlocal {src} as {};", bgp.local_as);
            }
            None => {
                let _ = writeln!(out, "\tlocal as {};", bgp.local_as);
            }
        }
        let _ = writeln!(out, "\tneighbor {} as {};", n.address, n.remote_as);
        let _ = writeln!(out, "\thold time {hold};\n\tkeepalive time {};", hold / 3);
        // A director back from a restart announces again within seconds, not minutes.
        out.push_str("\tconnect retry time 5;\n\terror wait time 1, 10;\n");
        if n.bfd {
            out.push_str("\tbfd on;\n");
        }
        let _ = writeln!(
            out,
            "\t{channel} {{\n\t\timport none;\n\t\texport where proto = \"{filter}\";\n\t}};\n}}"
        );
    }
    out
}

#[cfg(test)]
mod tests;
