//! The scripts around VRRP: notify scripts of instances and sync groups, run as `script_user`
//! or their own `user`. Tracking scripts (`vrrp_script`) are the director's health runner's
//! (`health::target::CheckTarget::for_vrrp_script`), with keepalived's rise / fall.

use tracing::warn;

use super::machine::State;
use crate::config::model;
pub use crate::health::misc::needs_shell;

/// Set `cmd` to run as `user` (`USER` or `USER:GROUP`); false, with a warning, when this
/// host has no such user or group: the script must not run then (never as root instead).
pub fn run_as(cmd: &mut tokio::process::Command, user: Option<&str>) -> bool {
    let Some(user) = user else { return true };
    match crate::health::misc::lookup_user(user) {
        Some((uid, gid)) => {
            cmd.uid(uid).gid(gid);
            true
        }
        None => {
            warn!("script user `{user}` does not exist on this host: the script is not run");
            false
        }
    }
}

/// The global `script_user` when this host has it; else none (root).
pub use crate::health::misc::existing_user as global_user;

/// Run the notify scripts of an instance or a sync group (`kind`: INSTANCE or GROUP).
pub(super) fn notify(
    n: &model::Notify,
    kind: &str,
    name: &str,
    to: State,
    priority: u8,
    user: Option<&str>,
) {
    // The block's own `USER [GROUP]` first, else the global script_user.
    let user = n.user.as_deref().or(global_user(user));
    let specific = match to {
        State::Master => n.master.as_ref(),
        State::Backup => n.backup.as_ref(),
        State::Fault => n.fault.as_ref(),
        State::Init => n.stop.as_ref(),
    };
    let mut runs: Vec<(String, Vec<String>)> = Vec::new();
    if let Some(s) = specific {
        runs.push((s.clone(), Vec::new()));
    }
    if let Some(s) = &n.any {
        let state = if to == State::Init {
            "STOP".to_string()
        } else {
            to.to_string()
        };
        runs.push((
            s.clone(),
            vec![kind.into(), name.into(), state, priority.to_string()],
        ));
    }
    for (line, args) in runs {
        spawn_detached(&line, &args, user, &format!("{name}: notify script"));
    }
}

/// Start a configured script line without waiting for it (notify scripts, a real server's
/// notify_up / notify_down, quorum scripts), as `user`; a failure to start is logged, naming
/// `what`. The child is reaped when it exits.
pub fn spawn_detached(line: &str, args: &[String], user: Option<&str>, what: &str) {
    let mut cmd = crate::health::misc::command(line, args);
    cmd.stdin(std::process::Stdio::null());
    if !run_as(&mut cmd, user) {
        return;
    }
    match cmd.spawn() {
        Ok(mut child) => {
            tokio::spawn(async move {
                let _ = child.wait().await;
            });
        }
        Err(e) => warn!("{what} `{line}`: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_is_used_only_when_the_line_needs_one() {
        assert!(needs_shell("/usr/bin/curl -s http://localhost | grep 200"));
        assert!(!needs_shell("/usr/local/bin/check --port 80"));
    }
}
