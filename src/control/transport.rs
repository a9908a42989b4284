//! How a console sends an operator's command: over a daemon's control socket, or to the
//! engines running in its own process (`--embedded`). Both decide who may act by one rule
//! ([`server::peer`]): over the socket the daemon reads the caller's credentials from the
//! kernel; in-process they are this process's own, against the same admin group.

use std::future::Future;
use std::path::PathBuf;

use super::client::Client;
use super::protocol::{Command, Request, Response};
use super::server::{self, Peer};
use crate::engine::director::{CommandRequest, Handles};

pub trait Transport {
    /// Send `command`; the engines' answer, or why it was refused or not delivered.
    fn command(&self, command: Command) -> impl Future<Output = Result<String, String>> + Send;
}

/// A daemon's control socket.
pub struct Socket(pub PathBuf);

impl Transport for Socket {
    async fn command(&self, command: Command) -> Result<String, String> {
        let mut client = Client::connect(&self.0).await.map_err(|e| e.to_string())?;
        match client
            .call(&Request::Command { command })
            .await
            .map_err(|e| e.to_string())?
        {
            Response::Done { message } => Ok(message),
            Response::Refused { message } | Response::Error { message } => Err(message),
            other => Err(format!("unexpected answer {other:?}")),
        }
    }
}

/// The engines in this process.
pub struct InProcess {
    handles: Handles,
    peer: Peer,
}

impl InProcess {
    /// This process's credentials against `admin_group` (the configuration's).
    pub fn new(handles: Handles, admin_group: Option<&str>) -> InProcess {
        // SAFETY: getuid and getgid have no preconditions.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        let mut peer = server::peer(uid, gid, admin_group);
        // The audit names who ran sudo, where that is known; the rule above decided.
        if let Ok(user) = std::env::var("SUDO_USER") {
            peer.user = user;
        }
        InProcess { handles, peer }
    }

    /// Whether this process may act (else the console is watch-only).
    pub fn admin(&self) -> bool {
        self.peer.admin
    }

    pub fn handles(&self) -> &Handles {
        &self.handles
    }
}

impl Transport for InProcess {
    async fn command(&self, command: Command) -> Result<String, String> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        let req = CommandRequest {
            command,
            user: self.peer.user.clone(),
            uid: self.peer.uid,
            admin: self.peer.admin,
            reply,
        };
        self.handles
            .commands
            .send(req)
            .await
            .map_err(|_| "the engines are stopping".to_string())?;
        rx.await
            .map_err(|_| "the engines dropped the command".to_string())?
    }
}
