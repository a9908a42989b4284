//! MISC_CHECK: run a script and read its exit code, keepalived's way.
//!
//! - exit 0: up; exit 1: down; with `misc_dynamic`, 2..=255: up with weight `code - 2`
//!   (any other code without misc_dynamic: down);
//! - killed by a signal, or still running after the timeout: down. On timeout the script's
//!   whole process group gets SIGTERM, then SIGKILL two seconds later (keepalived's sequence);
//!   the check's result does not wait for that.
//! - The line runs through `/bin/sh -c` only when it needs a shell (pipes, redirections,
//!   quotes, variables, globs); otherwise its words are executed directly.

use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use super::spec::MiscProbe;
use super::{CheckResult, fmt_dur};

/// Between SIGTERM and SIGKILL of a script that overran its timeout.
pub const KILL_GRACE: Duration = Duration::from_secs(2);

/// Whether a command line needs a shell (pipes, redirections, quotes, variables...).
pub fn needs_shell(line: &str) -> bool {
    line.contains([
        '|', '&', ';', '<', '>', '(', ')', '$', '`', '\'', '"', '*', '?', '[', '~', '{', '\\',
    ])
}

/// The command for a configured script line, with `extra` arguments after its own: every
/// script lvsdeck runs (checks, tracking, notify and quorum scripts) is started from this.
pub fn command(line: &str, extra: &[String]) -> Command {
    if needs_shell(line) {
        let mut c = Command::new("/bin/sh");
        if extra.is_empty() {
            c.arg("-c").arg(line);
        } else {
            // "$@" passes the extra arguments through the shell unchanged. Only then: after a
            // line ending in `;`, an empty "$@" would make the exit status 0.
            c.arg("-c")
                .arg(format!("{line} \"$@\""))
                .arg("sh")
                .args(extra);
        }
        c
    } else {
        let mut words = line.split_whitespace();
        let mut c = Command::new(words.next().unwrap_or("/bin/false"));
        c.args(words).args(extra);
        c
    }
}

/// `script_user` where this host has it; else none (root), as keepalived runs scripts when
/// its default script user is missing.
pub fn existing_user(script_user: Option<&str>) -> Option<&str> {
    script_user.filter(|u| lookup_user(u).is_some())
}

/// One MISC_CHECK attempt started at `start`.
pub async fn check(p: &MiscProbe, start: Instant) -> CheckResult {
    let mut cmd = command(&p.line, &[]);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    if let Some((uid, gid)) = p.user {
        cmd.uid(uid).gid(gid);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let program = p.line.split_whitespace().next().unwrap_or_default();
            return CheckResult::fail(
                format!("cannot run {program}: {}", super::tcp::io_message(&e)),
                start.elapsed(),
            );
        }
    };
    let mut group = GroupGuard(child.id().map(|id| id as i32));
    match tokio::time::timeout(p.timeout, child.wait()).await {
        Ok(Ok(status)) => {
            group.0 = None;
            judge(status, p.dynamic, start.elapsed())
        }
        Ok(Err(e)) => CheckResult::fail(format!("waiting for the script: {e}"), start.elapsed()),
        Err(_) => {
            if let Some(pgid) = group.0.take() {
                terminate(child, pgid);
            }
            CheckResult::fail(
                format!("timeout after {}", fmt_dur(p.timeout)),
                start.elapsed(),
            )
        }
    }
}

/// keepalived's reading of an exit status.
pub fn judge(status: ExitStatus, dynamic: bool, latency: Duration) -> CheckResult {
    use std::os::unix::process::ExitStatusExt;
    match status.code() {
        Some(0) => CheckResult::ok("exit 0", latency),
        Some(code) if dynamic && (2..=255).contains(&code) => {
            let weight = (code - 2) as u32;
            let mut r = CheckResult::ok(format!("exit {code}: weight {weight}"), latency);
            r.weight = Some(super::state::WeightSet::To(weight));
            r
        }
        Some(code) => CheckResult::fail(format!("exit {code}"), latency),
        None => CheckResult::fail(
            format!("killed by signal {}", status.signal().unwrap_or(0)),
            latency,
        ),
    }
}

/// SIGTERM the group now, SIGKILL it after [`KILL_GRACE`], and reap the script, in the
/// background.
fn terminate(mut child: Child, pgid: i32) {
    signal_group(pgid, libc::SIGTERM);
    tokio::spawn(async move {
        let _ = tokio::time::timeout(KILL_GRACE, child.wait()).await;
        // Whatever the leader did, its children may linger: keepalived kills the group too.
        signal_group(pgid, libc::SIGKILL);
        let _ = child.wait().await;
    });
}

fn signal_group(pgid: i32, sig: i32) {
    if pgid > 0 {
        // SAFETY: kill(2) with a negative pid signals a process group; no memory involved.
        unsafe {
            libc::kill(-pgid, sig);
        }
    }
}

/// Kills the script's process group if the check is dropped while the script runs (a target
/// removed, the runner stopped).
struct GroupGuard(Option<i32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            signal_group(pgid, libc::SIGKILL);
        }
    }
}

/// The uid and gid to run as, from `USER` or `USER:GROUP` (keepalived's `USER [GROUP]`:
/// the group replaces the user's own). None when this host has no such user or group.
pub fn lookup_user(spec: &str) -> Option<(u32, u32)> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let (uid, gid) = lookup_passwd(user)?;
    match group {
        Some(g) => Some((uid, lookup_group(g)?)),
        None => Some((uid, gid)),
    }
}

fn lookup_passwd(name: &str) -> Option<(u32, u32)> {
    let cname = std::ffi::CString::new(name).ok()?;
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: getpwnam_r fills `pwd` using `buf`, both live for the call; `result` points to
    // `pwd` or is null.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwnam_r(
            cname.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        );
        if rc != 0 || result.is_null() {
            return None;
        }
        Some((pwd.pw_uid, pwd.pw_gid))
    }
}

fn lookup_group(name: &str) -> Option<u32> {
    let cname = std::ffi::CString::new(name).ok()?;
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: getgrnam_r fills `grp` using `buf`, both live for the call; `result` points to
    // `grp` or is null.
    unsafe {
        let mut grp: libc::group = std::mem::zeroed();
        let mut result: *mut libc::group = std::ptr::null_mut();
        let rc = libc::getgrnam_r(
            cname.as_ptr(),
            &mut grp,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        );
        if rc != 0 || result.is_null() {
            return None;
        }
        Some(grp.gr_gid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::state::WeightSet;

    #[test]
    fn a_user_spec_names_a_user_and_maybe_a_group() {
        assert_eq!(lookup_user("nobody"), Some((65534, 65534)));
        assert_eq!(lookup_user("nobody:daemon"), Some((65534, 1)));
        assert_eq!(lookup_user("nobody:no-such-group"), None);
        assert_eq!(lookup_user("no-such-user"), None);
    }
    use std::os::unix::process::ExitStatusExt;

    fn exit(code: i32) -> ExitStatus {
        ExitStatus::from_raw(code << 8)
    }

    #[test]
    fn exit_codes_as_keepalived_reads_them() {
        let d = Duration::ZERO;
        let r = |code, dynamic| {
            let r = judge(exit(code), dynamic, d);
            (r.ok, r.weight, r.message)
        };
        assert_eq!(r(0, false), (true, None, "exit 0".into()));
        assert_eq!(r(0, true), (true, None, "exit 0".into()));
        assert_eq!(r(1, false), (false, None, "exit 1".into()));
        assert_eq!(r(1, true), (false, None, "exit 1".into()));
        assert_eq!(
            r(2, true),
            (true, Some(WeightSet::To(0)), "exit 2: weight 0".into())
        );
        assert_eq!(
            r(255, true),
            (
                true,
                Some(WeightSet::To(253)),
                "exit 255: weight 253".into()
            )
        );
        assert_eq!(r(7, false), (false, None, "exit 7".into()));
        let killed = judge(ExitStatus::from_raw(libc::SIGKILL), false, d);
        assert_eq!(
            (killed.ok, killed.message.as_str()),
            (false, "killed by signal 9")
        );
    }

    #[test]
    fn extra_arguments_reach_the_script_through_the_shell_and_without_it() {
        let args = |c: &Command| -> Vec<String> {
            c.as_std()
                .get_args()
                .map(|a| a.to_string_lossy().into_owned())
                .collect()
        };
        let extra = vec!["INSTANCE".to_string(), "VI 1".to_string()];
        let c = command("/usr/bin/notify --x", &extra);
        assert_eq!(c.as_std().get_program(), "/usr/bin/notify");
        assert_eq!(args(&c), ["--x", "INSTANCE", "VI 1"]);
        let c = command("echo $1 > /tmp/x", &extra);
        assert_eq!(
            args(&c),
            ["-c", "echo $1 > /tmp/x \"$@\"", "sh", "INSTANCE", "VI 1"]
        );
        // No extra arguments: the line alone, so its own exit status stands.
        let c = command("false;", &[]);
        assert_eq!(args(&c), ["-c", "false;"]);
    }

    #[test]
    fn shell_only_when_needed() {
        assert!(needs_shell("/usr/bin/curl -s http://x | grep 200"));
        assert!(needs_shell("test \"$X\" = 1"));
        assert!(!needs_shell("/usr/local/bin/check --port 80"));
    }

    #[test]
    fn root_is_a_user() {
        assert_eq!(lookup_user("root"), Some((0, 0)));
        assert_eq!(lookup_user("no-such-user-lvsdeck"), None);
    }
}
