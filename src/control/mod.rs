//! Operator control: the protocol (serde types), the Unix-socket server and the client.

pub mod protocol;
