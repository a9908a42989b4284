//! BFD (RFC 5880 asynchronous mode over RFC 5881 single-hop UDP, IPv4 and IPv6): a sans-IO
//! codec and session machine, and a thin shell that runs keepalived's `bfd_instance` sessions
//! on a thread of their own, so a busy director never delays a 10 ms packet.
//!
//! What the sessions are for: `track_bfd` in a vrrp_instance (a weight-0 tracker puts the
//! instance in Fault while the session is down, as keepalived does; a weighted one moves the
//! priority), and lvsdeck's `takeover`, which makes a backup treat its master's session going
//! Down (detection time expired) like its Master_Down timer firing.

pub mod packet;
pub mod runner;
pub mod session;

pub use packet::{AuthKey, Control, DecodeError, Diag, State};
pub use session::{Event, Session, SessionParams};
