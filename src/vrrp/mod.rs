//! VRRP (RFC 3768 v2, RFC 9568 v3): the pure codec and state machine, and the thin I/O around them.

pub mod ah;
pub mod announce;
pub mod guard;
pub mod handback;
pub mod io;
pub mod machine;
pub mod others;
pub mod packet;
pub mod routes;
pub mod runner;
pub mod scripts;
#[cfg(any(test, feature = "testkit"))]
pub mod sim;
pub mod track_files;
pub mod vip;
pub mod vmac;
