//! The scripts around VRRP: tracking scripts (`vrrp_script`, keepalived's rise / fall) and
//! notify scripts of instances and sync groups, run as `script_user` or their own `user`.

use std::time::Duration;

use tracing::warn;

use super::machine::State;
use crate::config::model::{self, VrrpScript};
pub use crate::health::misc::needs_shell;

/// Health of one tracking script: keepalived's rise / fall counting.
#[derive(Debug, Clone, Default)]
pub struct ScriptHealth {
    pub up: Option<bool>,
    successes: u32,
    failures: u32,
}

impl ScriptHealth {
    /// Count one result; returns the new state when it changed.
    pub fn record(&mut self, ok: bool, rise: u32, fall: u32) -> Option<bool> {
        if ok {
            self.successes += 1;
            self.failures = 0;
        } else {
            self.failures += 1;
            self.successes = 0;
        }
        let next = match self.up {
            // The first result decides at once: nothing is known before it.
            None => Some(ok),
            Some(false) if self.successes >= rise.max(1) => Some(true),
            Some(true) if self.failures >= fall.max(1) => Some(false),
            _ => None,
        };
        if next.is_some() {
            self.up = next;
        }
        next
    }
}

/// A command for a configured script line, with extra arguments appended.
pub fn script_command(line: &str, extra: &[String]) -> tokio::process::Command {
    if needs_shell(line) {
        let mut c = tokio::process::Command::new("/bin/sh");
        // "$@" passes the extra arguments through the shell unchanged.
        c.arg("-c")
            .arg(format!("{line} \"$@\""))
            .arg("sh")
            .args(extra);
        c
    } else {
        let mut words = line.split_whitespace();
        let mut c = tokio::process::Command::new(words.next().unwrap_or("/bin/false"));
        c.args(words).args(extra);
        c
    }
}

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

/// The global `script_user` when this host has it; else none (root), as keepalived runs
/// scripts when its default script user is missing.
pub fn global_user(script_user: Option<&str>) -> Option<&str> {
    script_user.filter(|u| crate::health::misc::lookup_user(u).is_some())
}

/// Run a tracking script once: success is exit status 0 within the timeout.
pub(super) async fn run_script(script: &VrrpScript, script_user: Option<&str>) -> bool {
    let mut cmd = script_command(&script.script, &[]);
    if !run_as(
        &mut cmd,
        script.user.as_deref().or(global_user(script_user)),
    ) {
        return false;
    }
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    let Ok(mut child) = cmd.spawn() else {
        return false;
    };
    let timeout = script
        .timeout
        .map_or(script.interval.0, |t| t.0)
        .max(Duration::from_millis(10));
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => status.success(),
        _ => false,
    }
}

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
    let mut cmd = script_command(line, args);
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
    fn script_health_counts_rise_and_fall() {
        let mut h = ScriptHealth::default();
        assert_eq!(h.record(true, 2, 3), Some(true));
        assert_eq!(h.record(false, 2, 3), None);
        assert_eq!(h.record(false, 2, 3), None);
        assert_eq!(h.record(false, 2, 3), Some(false));
        assert_eq!(h.record(true, 2, 3), None);
        assert_eq!(h.record(true, 2, 3), Some(true));
    }

    #[test]
    fn shell_is_used_only_when_the_line_needs_one() {
        assert!(needs_shell("/usr/bin/curl -s http://localhost | grep 200"));
        assert!(!needs_shell("/usr/local/bin/check --port 80"));
    }
}
