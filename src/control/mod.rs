//! Operator control: the protocol (serde types), the Unix-socket server and the client.

pub mod client;
pub mod protocol;
pub mod server;
