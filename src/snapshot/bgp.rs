//! The BGP part of the view model (`[bgp]`): the speaker, its sessions, what this director
//! announces and why.

use serde::{Deserialize, Serialize};

use super::Override;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct BgpView {
    /// `BIRD at /run/bird/bird.ctl`.
    pub speaker: String,
    /// Whether the speaker answered its last question.
    pub reachable: bool,
    /// What is wrong, if anything: BIRD down, its configuration refused, an address that
    /// could not be held on `lo`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub checked_at_ms: u64,
    pub local_as: u32,
    pub sessions: Vec<BgpSessionView>,
    pub routes: Vec<BgpRouteView>,
    /// The whole director drained by an operator (`ctl drain-director`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drained: Option<Override<()>>,
    /// Withdrawn for a stop; the director stops once the routers had `withdraw_wait`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stopping: bool,
}

/// One BGP session to a router, as BIRD reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct BgpSessionView {
    /// BIRD's protocol name (`lvsdeck_r1`).
    pub name: String,
    pub neighbor: String,
    pub remote_as: u32,
    pub bfd: bool,
    /// BIRD's protocol state: up, start, stop, down; `missing` if BIRD lacks it.
    pub state: String,
    /// BGP's own state and BIRD's last message (`Established`, `Active Socket: Connection
    /// refused`).
    pub info: String,
    pub since: String,
    pub established: bool,
}

/// One address of an announced service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct BgpRouteView {
    /// `10.30.0.100/32`.
    pub prefix: String,
    /// Whether the director wants it announced now.
    pub announced: bool,
    /// `announced`, `withdrawn: quorum lost on ...`, `withdrawn: director drained by ...`.
    pub why: String,
    /// Whether BIRD has taken in the latest decision about it (its `configure` answered).
    pub in_bird: bool,
}

impl BgpView {
    /// Sessions Established, and all.
    pub fn sessions_up(&self) -> (usize, usize) {
        let up = self.sessions.iter().filter(|s| s.established).count();
        (up, self.sessions.len())
    }
}
