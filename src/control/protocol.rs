//! The control protocol: JSON lines over a Unix socket. Commands are values carrying who
//! issued them; the engine validates, applies, logs and answers each. Shared by the daemon,
//! `lvsdeck ctl`, `lvsdeck status` and the console.

use serde::{Deserialize, Serialize};

use crate::snapshot::{EventView, Snapshot};

/// Which real server a command is about: the service as ipvsadm names it, and the real server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RealTarget {
    /// The service key as in the Snapshot (`ServiceView::key`), or its address `192.0.2.1:80`.
    pub service: String,
    /// `address:port` (or the address alone for fwmark services).
    pub real: String,
}

/// An operator action. Each one is sticky where that makes sense (drain, weight, priority)
/// until cleared, surviving health flaps and reloads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Weight 0: no new connections; existing ones finish.
    Drain { target: RealTarget },
    /// Back to the configured (or pre-drain) weight.
    Undrain { target: RealTarget },
    /// Set the weight (sticky); `None` clears the override.
    Weight {
        target: RealTarget,
        weight: Option<u32>,
    },
    /// Override the VRRP priority of an instance (1..=254); `None` clears it.
    Priority {
        instance: String,
        priority: Option<u8>,
    },
    /// Graceful, make-before-break hand-over of a master instance's VIPs to a backup.
    Handover { instance: String },
    /// Re-read the configuration and apply only the difference.
    Reload,
    /// Remove every operator override: drains, weights, priority overrides.
    Clear,
    /// Run the doctor's checks now (`lvsdeck doctor`); the report comes in the Snapshot.
    Doctor,
    /// `[bgp]`: withdraw every address this director announces (sticky until undrained);
    /// the routers send its flows to the other directors.
    DrainDirector,
    /// Announce again what has quorum.
    UndrainDirector,
}

/// What a client sends: one JSON object per line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    /// One snapshot, now.
    Snapshot,
    /// A snapshot now and at every change (at most a few per second), plus events as they happen.
    Subscribe,
    /// Carry out a command (admins only).
    Command { command: Command },
}

/// What the daemon sends back: one JSON object per line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "response", rename_all = "snake_case")]
pub enum Response {
    /// Sent first on every connection: who the daemon thinks you are.
    Hello {
        daemon_version: String,
        user: String,
        uid: u32,
        admin: bool,
    },
    Snapshot {
        snapshot: Box<Snapshot>,
    },
    Event {
        event: EventView,
    },
    /// A command was applied; `message` says what changed.
    Done {
        message: String,
    },
    /// A command or request was refused; `message` says why and what to do.
    Refused {
        message: String,
    },
    /// The request could not be read.
    Error {
        message: String,
    },
}

/// Requests longer than this are refused without being parsed.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_have_a_stable_json_form() {
        let c = Request::Command {
            command: Command::Drain {
                target: RealTarget {
                    service: "TCP  10.0.0.1:80".into(),
                    real: "10.0.0.11:80".into(),
                },
            },
        };
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(
            json,
            r#"{"request":"command","command":{"command":"drain","target":{"service":"TCP  10.0.0.1:80","real":"10.0.0.11:80"}}}"#
        );
        assert_eq!(serde_json::from_str::<Request>(&json).unwrap(), c);
    }
}
