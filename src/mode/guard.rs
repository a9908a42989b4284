//! `lvsdeck vip-guard` (hidden): the process a VRRP daemon starts beside itself, reading its
//! word on the VIPs from stdin and, once the daemon is silent, removing them when another
//! director advertises their VRID as master (`lvsdeck::vrrp::guard` says why and how).

use std::collections::HashSet;
use std::net::IpAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lvsdeck::doctor::probe::{Frames, Tap};
use lvsdeck::doctor::wire::advert_claim;
use lvsdeck::vrrp::guard::{Message, Removal, Watch, describe};
use lvsdeck::vrrp::vip::Rtnl;
use tokio::sync::mpsc::UnboundedSender;

/// What the guard's loop hears: the daemon's lines, the pipe closing, an advert on a link.
enum Heard {
    Line(String),
    PipeClosed,
    Advert {
        ifindex: u32,
        vrid: u8,
        src: IpAddr,
        priority: u8,
    },
}

/// VRRP's multicast MACs (224.0.0.18, ff02::12).
const VRRP_GROUPS: [[u8; 6]; 2] = [
    [0x01, 0x00, 0x5e, 0x00, 0x00, 0x12],
    [0x33, 0x33, 0x00, 0x00, 0x00, 0x12],
];

pub fn run() -> ExitCode {
    // The daemon's stop signals reach its whole process group (Ctrl-C, systemd): the guard
    // outlives them, so the daemon's own graceful release goes first, then the pipe closes.
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: setting a signal's disposition to ignore has no preconditions.
        unsafe { libc::signal(sig, libc::SIG_IGN) };
    }
    let daemon = std::os::unix::process::parent_id();
    super::runtime().block_on(async move {
        let rtnl = match Rtnl::connect() {
            Ok(r) => r,
            Err(e) => {
                eprintln!("lvsdeck vip-guard: rtnetlink: {e}; the daemon's VIPs are unguarded");
                return ExitCode::FAILURE;
            }
        };
        let (tx, mut heard) = tokio::sync::mpsc::unbounded_channel::<Heard>();
        read_pipe(tx.clone());
        let listening: Arc<Mutex<HashSet<u32>>> = Arc::default();
        let mut watch = Watch::default();
        loop {
            let deadline = watch.next_deadline();
            let next = tokio::select! {
                h = heard.recv() => h,
                () = sleep_until(deadline) => {
                    for s in watch.fall_silent(Instant::now()) {
                        eprintln!(
                            "lvsdeck vip-guard: {}: no word from the daemon (pid {daemon}) for \
                             {:.1} s: its VIPs stay until another director advertises VRID {} \
                             as master",
                            s.instance,
                            s.silent.as_secs_f64(),
                            s.speaker.vrid
                        );
                    }
                    listen(&watch, &listening, &tx);
                    continue;
                }
            };
            let now = Instant::now();
            match next {
                Some(Heard::Line(line)) => match Message::parse(&line) {
                    Ok(message) => watch.handle(now, message),
                    Err(e) => eprintln!("lvsdeck vip-guard: from the daemon: {line:?}: {e}"),
                },
                Some(Heard::PipeClosed) | None => {
                    watch.daemon_gone();
                    if !watch.done() {
                        eprintln!(
                            "lvsdeck vip-guard: the daemon (pid {daemon}) is gone; its VIPs stay \
                             until another director advertises as master"
                        );
                    }
                }
                Some(Heard::Advert {
                    ifindex,
                    vrid,
                    src,
                    priority,
                }) => {
                    let removals = watch.heard(now, ifindex, vrid, src, priority);
                    remove(&rtnl, removals, daemon).await;
                }
            }
            if watch.done() {
                return ExitCode::SUCCESS;
            }
            listen(&watch, &listening, &tx);
        }
    })
}

/// A thread reads the daemon's pipe, line by line, until it closes.
fn read_pipe(tx: UnboundedSender<Heard>) {
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(Heard::Line(line)).is_err() {
                return;
            }
        }
        let _ = tx.send(Heard::PipeClosed);
    });
}

/// A listening thread per interface of a held instance (kernel-filtered to VRRP: a few
/// adverts a second), each ending when its interface is no longer wanted.
fn listen(watch: &Watch, listening: &Arc<Mutex<HashSet<u32>>>, tx: &UnboundedSender<Heard>) {
    let wanted: HashSet<u32> = watch.listening().into_iter().collect();
    let mut now = listening.lock().unwrap_or_else(|e| e.into_inner());
    now.retain(|i| wanted.contains(i));
    for ifindex in wanted {
        if !now.insert(ifindex) {
            continue;
        }
        let tap = match Tap::open(ifindex, Frames::Vrrp) {
            Ok(t) => t,
            Err(e) => {
                // Said once: the interface stays in the set, so it is not retried at every
                // renewal (its VIPs then stay while the daemon is silent, as with no peer).
                eprintln!(
                    "lvsdeck vip-guard: cannot listen for adverts on interface {ifindex}: {e}; \
                     a silent daemon's VIPs there stay"
                );
                continue;
            }
        };
        for mac in VRRP_GROUPS {
            let _ = tap.join_multicast(ifindex, mac);
        }
        let (tx, listening) = (tx.clone(), listening.clone());
        std::thread::spawn(move || {
            loop {
                let wanted = listening
                    .lock()
                    .map(|l| l.contains(&ifindex))
                    .unwrap_or(false);
                if !wanted {
                    return;
                }
                // Short polls: an advert reaches the loop within 20 ms, so the VIPs go within
                // moments of the new master adding its own (make-before-break).
                let adverts = tap.collect(Duration::from_millis(20), advert_claim);
                for (src, vrid, priority) in adverts {
                    let advert = Heard::Advert {
                        ifindex,
                        vrid,
                        src,
                        priority,
                    };
                    if tx.send(advert).is_err() {
                        return;
                    }
                }
            }
        });
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

async fn remove(rtnl: &Rtnl, removals: Vec<Removal>, daemon: u32) {
    for r in removals {
        let state = if r.daemon_gone { "gone" } else { "silent" };
        let mut failed = Vec::new();
        for (index, net) in &r.addrs {
            if let Err(e) = rtnl.del_vip(*index, *net).await {
                failed.push(format!("{net}: {e}"));
            }
        }
        eprintln!(
            "lvsdeck vip-guard: {}: {} advertises as master while the daemon (pid {daemon}) is \
             {state} ({:.1} s since its last word): removed its VIPs {}{}",
            r.instance,
            r.new_master,
            r.silent.as_secs_f64(),
            describe(&r.addrs),
            if failed.is_empty() {
                String::new()
            } else {
                format!("; FAILED: {}", failed.join("; "))
            }
        );
    }
}
