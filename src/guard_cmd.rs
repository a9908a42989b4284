//! `lvsdeck vip-guard` (hidden): the process a VRRP daemon starts beside itself, reading its
//! word on the VIPs from stdin and removing them when the daemon dies or falls silent
//! (`lvsdeck::vrrp::guard` says why and how).

use std::process::ExitCode;
use std::time::Instant;

use lvsdeck::vrrp::guard::{Message, Removal, Watch, describe};
use lvsdeck::vrrp::vip::Rtnl;

pub fn run() -> ExitCode {
    // The daemon's stop signals reach its whole process group (Ctrl-C, systemd): the guard
    // outlives them, so the daemon's own graceful release goes first, then the pipe closes.
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: setting a signal's disposition to ignore has no preconditions.
        unsafe { libc::signal(sig, libc::SIG_IGN) };
    }
    let daemon = std::os::unix::process::parent_id();
    crate::cli::runtime().block_on(async move {
        let rtnl = match Rtnl::connect() {
            Ok(r) => r,
            Err(e) => {
                eprintln!("lvsdeck vip-guard: rtnetlink: {e}; the daemon's VIPs are unguarded");
                return ExitCode::FAILURE;
            }
        };
        let mut watch = Watch::default();
        let mut gone = false;
        // A thread reads the pipe; its channel closes when the pipe does.
        let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        loop {
            let deadline = watch.next_deadline();
            let line = tokio::select! {
                line = lines.recv(), if !watch.done() && !gone => line,
                () = sleep_until(deadline) => {
                    remove(&rtnl, watch.expired(Instant::now()), daemon).await;
                    if watch.done() {
                        return ExitCode::SUCCESS;
                    }
                    continue;
                }
            };
            match line {
                Some(line) => match Message::parse(&line) {
                    Ok(message) => watch.handle(Instant::now(), message),
                    Err(e) => eprintln!("lvsdeck vip-guard: from the daemon: {line:?}: {e}"),
                },
                // The daemon is gone (or closed the pipe after a stop): what it still holds
                // goes when a backup can take over.
                None => {
                    gone = true;
                    watch.daemon_gone();
                    if watch.done() {
                        return ExitCode::SUCCESS;
                    }
                    if let Some(at) = watch.next_deadline() {
                        eprintln!(
                            "lvsdeck vip-guard: the daemon (pid {daemon}) is gone; its VIPs stay \
                             {:.1} s more, until a backup can take over",
                            at.saturating_duration_since(Instant::now()).as_secs_f64()
                        );
                    }
                }
            }
        }
    })
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

async fn remove(rtnl: &Rtnl, removals: Vec<Removal>, daemon: u32) {
    for r in removals {
        let why = if r.daemon_gone {
            format!(
                "the daemon (pid {daemon}) is gone and a backup can take over now ({:.1} s since \
                 its last word)",
                r.silent.as_secs_f64()
            )
        } else {
            format!(
                "no word from the daemon (pid {daemon}) for {:.1} s: it is stopped or stuck, and a \
                 backup can take over now; if it resumes as master it puts them back",
                r.silent.as_secs_f64()
            )
        };
        let mut failed = Vec::new();
        for (index, net) in &r.addrs {
            if let Err(e) = rtnl.del_vip(*index, *net).await {
                failed.push(format!("{net}: {e}"));
            }
        }
        eprintln!(
            "lvsdeck vip-guard: {}: {why}: removed its VIPs {}{}",
            r.instance,
            describe(&r.addrs),
            if failed.is_empty() {
                String::new()
            } else {
                format!("; FAILED: {}", failed.join("; "))
            }
        );
    }
}
