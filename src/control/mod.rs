//! Operator control: the protocol (serde types), the commands (one file each), the
//! Unix-socket server and the client.

pub mod client;
pub mod command;
pub mod protocol;
pub mod server;
pub mod transport;
