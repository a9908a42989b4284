//! The fault campaign: a seeded schedule of faults played on three directors in namespaces
//! (lvsdeck, keepalived, or both in one VRID) while a client watches from outside — who
//! answers ARP for the VIP every 50 ms, pings every 50 ms — then the invariants judged on what
//! the client saw:
//! - after every group of faults is healed and the cluster has had a Master_Down_Interval
//!   and a second to converge: exactly one MAC answers, d1's (the highest priority); two answers are
//!   a violation at once, a wrong or missing answer when two samples in a row say so (a
//!   single late reply on a loaded machine is not a verdict);
//! - never a VIP answered by a director whose daemon is killed or frozen, beyond the longest
//!   Master_Down_Interval of the cluster (3.8 s: until then no backup of a lower priority
//!   has taken over, and the director's kernel still serves the VIP) + 0.5 s of measurement;
//! - no daemon exits unless the campaign killed it.
//!
//! Replay a run: `LVSDECK_CHAOS_SEED=N LVSDECK_CHAOS_FAULTS=M LVSDECK_CHAOS_MIX=lvsdeck cargo
//! test --test chaos_netns -- --ignored --nocapture replay` (mix: lvsdeck, mixed or keepalived).

pub mod cluster;
pub mod observer;
pub mod schedule;

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use cluster::{Cluster, Impl, Mix, VIP};
use observer::{SAMPLE_EVERY, Sample};
use schedule::{Fault, Kind, Schedule};

/// Where and how a campaign runs.
#[derive(Debug, Clone)]
pub struct Setup {
    pub mix: Mix,
    /// 3 in namespaces on the host, 2 in the VM.
    pub directors: usize,
    /// The seed's IPVS service on every director, two DR real servers and a client sending
    /// requests: the IPVS invariants are judged too (real IPVS: the VM only).
    pub ipvs: bool,
    /// The lvsdeck binary (the VM runs a copy in its RAM).
    pub lvsdeck: String,
    /// Whether the client pings the VIP (iputils' `ping`; the VM has only busybox's).
    pub ping: bool,
    /// Added to the settling time: a daemon restarted in the VM takes seconds to start.
    pub startup: Duration,
    /// Whether the kernel has `sch_netem` (the VM's does; this host's not): packet loss then
    /// comes with delay.
    pub netem: bool,
    /// BFD between every two directors (10 ms x 3); lvsdeck's backups take over when their
    /// master's session falls silent (`takeover`).
    pub bfd: bool,
}

impl Setup {
    /// Three directors in namespaces on this host.
    pub fn namespaces(mix: Mix) -> Setup {
        Setup {
            mix,
            directors: 3,
            ipvs: false,
            lvsdeck: crate::support::lvsdeck_bin().to_string(),
            ping: true,
            startup: Duration::ZERO,
            netem: false,
            bfd: false,
        }
    }
}

/// One Master_Down_Interval of the lowest-priority backup (3 s + (256 - 50) / 256 s) + 1 s.
pub const SETTLE: Duration = Duration::from_millis(4810);
/// How long a killed or frozen daemon's director may still answer for the VIP.
pub const DEAD_GRACE: Duration = Duration::from_millis(4300);

/// A fault as it was played: when (from the campaign's start) and with what result.
#[derive(Debug, Clone)]
pub struct Played {
    pub fault: Fault,
    pub applied_at: Duration,
    pub applied: Result<(), String>,
    pub healed_at: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Violation {
    /// Two or more MACs answered after the cluster had settled.
    SplitBrainAfterHeal { at: Duration, macs: usize },
    /// After settling, not d1 (or no one) answered in two samples in a row.
    WrongHolderAfterHeal { at: Duration, holder: Option<usize> },
    /// A director whose daemon was killed or frozen answered for the VIP.
    DeadHolder {
        at: Duration,
        director: usize,
        which: Impl,
    },
    /// A daemon exited that no fault killed.
    Exited {
        at: Duration,
        director: usize,
        code: i32,
    },
    /// The director's IPVS service vanished (a flush) or its counters went back (re-created).
    IpvsReset {
        at: Duration,
        director: usize,
        what: String,
    },
    /// After settling, the directors' IPVS tables differ (`ipvsadm -Sn`).
    TablesDiffer { at: Duration, tables: Vec<String> },
}

impl Violation {
    /// Whether the violation is lvsdeck's to answer for: a dead holder is its director's; what
    /// the cluster shows after a heal is every implementation's in it.
    pub fn involves_lvsdeck(&self, mix: Mix) -> bool {
        match self {
            Violation::DeadHolder { which, .. } => *which == Impl::Lvsdeck,
            Violation::Exited { director, .. } | Violation::IpvsReset { director, .. } => {
                mix.of(*director) == Impl::Lvsdeck
            }
            _ => mix != Mix::Keepalived,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub applied: usize,
    pub not_applicable: usize,
    pub split_brain_after_heal: Duration,
    pub split_brain_in_faults: Duration,
    pub dead_holder: Duration,
    pub vip_less: Duration,
    pub pings: usize,
    pub pings_lost: usize,
    /// The IPVS form: how many polls of the tables, and each director's connection count at
    /// the last one (a service that took no traffic would prove little).
    pub ipvs_polls: usize,
    pub ipvs_conns: Vec<Option<u64>>,
}

pub struct Outcome {
    pub violations: Vec<Violation>,
    pub stats: Stats,
    pub report: String,
}

fn director_of(mac: &[u8; 6]) -> Option<usize> {
    (0..3).find(|&d| cluster::mac(d) == *mac)
}

/// One poll of every director's IPVS table: the service's total connections (`None`: no
/// such service) and the whole table as `ipvsadm -Sn` saves it.
#[derive(Debug, Clone)]
pub struct TablePoll {
    pub at: Duration,
    pub conns: Vec<Option<u64>>,
    pub saved: Vec<String>,
}

fn poll_tables(cluster_ns: &[String], t0: Instant) -> TablePoll {
    let at = t0.elapsed();
    let service = format!("{VIP}:80");
    let mut conns = Vec::new();
    let mut saved = Vec::new();
    for ns in cluster_ns {
        // One process per director and poll: each exec is dear in the VM.
        let script = format!("ipvsadm -Ln --stats -t {service}; echo ==; ipvsadm -Sn");
        let out = std::process::Command::new("ip")
            .args(["netns", "exec", ns, "sh", "-c", &script])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
            .unwrap_or_default();
        let (stats, table) = out.split_once("==\n").unwrap_or((&out, ""));
        conns.push(
            stats
                .lines()
                .find(|l| l.starts_with("TCP"))
                .and_then(|l| l.split_whitespace().nth(2))
                .and_then(|n| n.parse().ok()),
        );
        let mut lines: Vec<&str> = table.lines().collect();
        lines.sort();
        saved.push(lines.join("\n"));
    }
    TablePoll { at, conns, saved }
}

/// Play `faults` faults from `seed` on a cluster set up as `setup`; `tag` names its
/// namespaces.
pub fn run(setup: &Setup, seed: u64, faults: usize, tag: &str) -> Outcome {
    let mix = setup.mix;
    let settle = SETTLE + setup.startup;
    let schedule = Schedule::generate(seed, faults, setup.directors, settle);
    let mut cluster = Cluster::build(setup, tag);
    let converged = crate::support::wait_until(Duration::from_secs(20) + setup.startup * 4, || {
        cluster.topo.holds("d1", VIP)
            && (1..setup.directors).all(|d| !cluster.topo.holds(&cluster::host(d), VIP))
    });
    if converged.is_none() {
        let logs: String = cluster
            .logs()
            .iter()
            .map(|(n, t)| format!("--- {n}\n{t}\n"))
            .collect();
        panic!("{}: d1 never became the only master\n{logs}", mix.name());
    }
    std::thread::sleep(Duration::from_millis(1500) + setup.startup);
    let t0 = Instant::now();
    let t0_wall = SystemTime::now();
    let mut ping = setup.ping.then(|| {
        crate::support::Proc::spawn(
            &cluster.topo,
            "client",
            "ping",
            &["-D", "-O", "-n", "-i", "0.05", "-W", "1", VIP],
            cluster.dir.0.join("ping.log"),
        )
    });
    let client = setup.ipvs.then(|| {
        let status = cluster.dir.0.join("client.status");
        let target = format!("{VIP}:80");
        let args = [
            "lab-client",
            "--target",
            &target,
            "--rate",
            "20",
            "--status",
        ];
        let mut args: Vec<&str> = args.to_vec();
        let status_s = status.to_str().unwrap().to_string();
        args.push(&status_s);
        crate::support::Proc::spawn(
            &cluster.topo,
            "client",
            &setup.lvsdeck,
            &args,
            cluster.dir.0.join("client.log"),
        )
    });
    let stop = Arc::new(AtomicBool::new(false));
    let client_ns = cluster.topo.ns("client");
    let director_ns: Vec<String> = (0..setup.directors)
        .map(|d| cluster.topo.ns(&cluster::host(d)))
        .collect();
    let (samples, tables, played) = std::thread::scope(|s| {
        let stop_obs = stop.clone();
        let observer = s.spawn(move || {
            crate::support::enter_netns(&client_ns);
            observer::arp_samples(
                [0x02, 0x77, 0, 0, 0, 0x10],
                cluster::CLIENT_IP.parse().unwrap(),
                VIP.parse().unwrap(),
                t0,
                stop_obs,
            )
        });
        let stop_tables = stop.clone();
        let ipvs = setup.ipvs;
        let tables = s.spawn(move || {
            let mut polls = Vec::new();
            while ipvs && !stop_tables.load(Ordering::Relaxed) {
                polls.push(poll_tables(&director_ns, t0));
                std::thread::sleep(Duration::from_secs(1));
            }
            polls
        });
        let played = play(&mut cluster, &schedule, t0);
        stop.store(true, Ordering::Relaxed);
        (
            observer.join().expect("observer"),
            tables.join().expect("table poller"),
            played,
        )
    });
    let pings = match ping.as_mut() {
        Some(p) => {
            p.signal(libc::SIGINT);
            p.wait_exit(Duration::from_secs(3));
            observer::pings(&p.log_text(), t0_wall)
        }
        None => Vec::new(),
    };
    drop(client);
    let (mut played, exits) = played;
    let mut violations = exits;
    let mut stats = Stats::default();
    let windows = judge(
        &schedule,
        &mut played,
        &samples,
        (mix, setup.directors),
        settle,
        &mut violations,
        &mut stats,
    );
    judge_tables(&tables, &windows, &mut violations);
    stats.ipvs_polls = tables.len();
    stats.ipvs_conns = tables.last().map(|p| p.conns.clone()).unwrap_or_default();
    stats.pings = pings.len();
    stats.pings_lost = pings.iter().filter(|(_, ok)| !ok).count();
    cluster.stop();
    let report = report(
        mix,
        &schedule,
        &played,
        &violations,
        &stats,
        (&pings, &samples),
        &cluster,
    );
    Outcome {
        violations,
        stats,
        report,
    }
}

/// The IPVS invariants: on every director the service is always there and its connection
/// count never goes back (never flushed or re-created, the killed daemon's table included);
/// after settling, every director's table is the same.
fn judge_tables(
    polls: &[TablePoll],
    windows: &[(Duration, Duration)],
    violations: &mut Vec<Violation>,
) {
    let mut last: Vec<Option<u64>> = Vec::new();
    let mut differ_reported = None;
    for poll in polls {
        last.resize(poll.conns.len(), None);
        for (d, now) in poll.conns.iter().enumerate() {
            match (last[d], now) {
                (_, None) => violations.push(Violation::IpvsReset {
                    at: poll.at,
                    director: d,
                    what: "the service is gone".into(),
                }),
                (Some(before), Some(now)) if *now < before => {
                    violations.push(Violation::IpvsReset {
                        at: poll.at,
                        director: d,
                        what: format!("connections went from {before} to {now}"),
                    })
                }
                _ => {}
            }
            if now.is_some() {
                last[d] = *now;
            }
        }
        let window = windows
            .iter()
            .position(|(a, b)| poll.at >= *a && poll.at < *b);
        if let Some(w) = window
            && poll.saved.windows(2).any(|p| p[0] != p[1])
            && differ_reported != Some(w)
        {
            differ_reported = Some(w);
            violations.push(Violation::TablesDiffer {
                at: poll.at,
                tables: poll.saved.clone(),
            });
        }
    }
}

/// Apply and heal each fault at its time; daemons that exit on their own are violations
/// (and are started again, so the campaign goes on).
fn play(cluster: &mut Cluster, schedule: &Schedule, t0: Instant) -> (Vec<Played>, Vec<Violation>) {
    let mut events: Vec<(Duration, bool, usize)> = Vec::new();
    for (i, f) in schedule.faults.iter().enumerate() {
        events.push((f.start, true, i));
        events.push((f.heal, false, i));
    }
    events.sort_by_key(|(at, apply, _)| (*at, *apply));
    let mut played: Vec<Played> = schedule
        .faults
        .iter()
        .map(|f| Played {
            fault: f.clone(),
            applied_at: Duration::ZERO,
            applied: Err("not yet".into()),
            healed_at: None,
        })
        .collect();
    let mut killed = vec![false; cluster.directors.len()];
    let mut exits = Vec::new();
    let mut watch_until = |cluster: &mut Cluster, until: Duration, killed: &[bool]| {
        loop {
            for (d, k) in killed.iter().enumerate() {
                if *k {
                    continue;
                }
                if let Some(code) = cluster.exited(d) {
                    exits.push(Violation::Exited {
                        at: t0.elapsed(),
                        director: d,
                        code,
                    });
                    // Started again, so the campaign goes on (not in a tight loop if it
                    // cannot start).
                    std::thread::sleep(Duration::from_millis(500));
                    cluster.start(d);
                }
            }
            cluster.tick();
            let now = t0.elapsed();
            if now >= until {
                return;
            }
            std::thread::sleep((until - now).min(Duration::from_millis(100)));
        }
    };
    for (at, apply, i) in events {
        watch_until(cluster, at, &killed);
        let f = &schedule.faults[i];
        if apply {
            played[i].applied_at = t0.elapsed();
            played[i].applied = cluster.apply(f.director, f.kind);
            if f.kind == Kind::Kill {
                killed[f.director] = true;
            }
        } else if played[i].applied.is_ok() {
            if let Err(e) = cluster.heal(f.director, f.kind) {
                played[i].applied = Err(format!("heal failed: {e}"));
            }
            played[i].healed_at = Some(t0.elapsed());
            if f.kind == Kind::Kill {
                killed[f.director] = false;
            }
        }
    }
    watch_until(cluster, schedule.end, &killed);
    (played, exits)
}

fn judge(
    schedule: &Schedule,
    played: &mut [Played],
    samples: &[Sample],
    (mix, directors): (Mix, usize),
    settle: Duration,
    violations: &mut Vec<Violation>,
    stats: &mut Stats,
) -> Vec<(Duration, Duration)> {
    stats.applied = played.iter().filter(|p| p.applied.is_ok()).count();
    stats.not_applicable = played
        .iter()
        .filter(|p| p.applied.as_ref().is_err_and(|e| e.starts_with("n/a")))
        .count();
    // Each check window opens `settle` after the last heal of its group as it was played.
    let mut prev_to = Duration::ZERO;
    let windows: Vec<(Duration, Duration)> = schedule
        .checks
        .iter()
        .map(|w| {
            let last_heal = played
                .iter()
                .filter(|p| p.fault.heal > prev_to && p.fault.heal <= w.from)
                .filter_map(|p| p.healed_at)
                .max()
                .unwrap_or_default();
            prev_to = w.to;
            (w.from.max(last_heal + settle), w.to)
        })
        .collect();
    // Killed or frozen: from when to when (unhealed: to the end).
    let dead: Vec<(usize, Duration, Duration)> = played
        .iter()
        .filter(|p| matches!(p.fault.kind, Kind::Kill | Kind::Freeze) && p.applied.is_ok())
        .map(|p| {
            (
                p.fault.director,
                p.applied_at,
                p.healed_at.unwrap_or(Duration::MAX),
            )
        })
        .collect();
    // Directors that could not take over: killed or frozen, cable pulled, VRRP dropped both
    // ways (one dropping only what comes in becomes master and is heard).
    let impaired: Vec<(usize, Duration, Duration)> = played
        .iter()
        .filter(|p| p.applied.is_ok())
        .filter(|p| {
            matches!(
                p.fault.kind,
                Kind::Kill | Kind::Freeze | Kind::Cable | Kind::Partition { both_ways: true }
            )
        })
        .map(|p| {
            (
                p.fault.director,
                p.applied_at,
                p.healed_at.unwrap_or(Duration::MAX),
            )
        })
        .collect();
    // A dead director's kernel keeps its VIP until another director advertises (the VIP
    // guard's make-before-break): beyond DEAD_GRACE that is a fault only when one of the others
    // has been able to take over for all of it. (Seed 1000, faults #737-#739: d2 killed, d3's
    // cable pulled, d1 killed; d1's VIP stayed until d3, back 3.4 s before, advertised.)
    let could_take_over = |dead: usize, at: Duration| {
        (0..directors).filter(|&o| o != dead).any(|o| {
            !impaired
                .iter()
                .any(|(d, from, to)| *d == o && *from < at && *to > at.saturating_sub(DEAD_GRACE))
        })
    };
    let mut wrong_run = 0;
    let mut reported_window = None;
    for s in samples {
        let window = windows.iter().position(|(a, b)| s.at >= *a && s.at < *b);
        if s.macs.len() >= 2 {
            if window.is_some() {
                stats.split_brain_after_heal += SAMPLE_EVERY;
                violations.push(Violation::SplitBrainAfterHeal {
                    at: s.at,
                    macs: s.macs.len(),
                });
            } else {
                stats.split_brain_in_faults += SAMPLE_EVERY;
            }
        }
        if s.macs.is_empty() {
            stats.vip_less += SAMPLE_EVERY;
        }
        let mut dead_here = false;
        for mac in &s.macs {
            let Some(d) = director_of(mac) else { continue };
            if dead
                .iter()
                .any(|(dd, from, to)| *dd == d && s.at > *from + DEAD_GRACE && s.at < *to)
                && could_take_over(d, s.at)
            {
                dead_here = true;
                violations.push(Violation::DeadHolder {
                    at: s.at,
                    director: d,
                    which: mix.of(d),
                });
            }
        }
        if dead_here {
            stats.dead_holder += SAMPLE_EVERY;
        }
        if let Some(w) = window {
            let holder = match s.macs.as_slice() {
                [one] => director_of(one),
                _ => None,
            };
            if s.macs.len() < 2 && holder != Some(0) {
                wrong_run += 1;
                if wrong_run >= 2 && reported_window != Some(w) {
                    reported_window = Some(w);
                    violations.push(Violation::WrongHolderAfterHeal { at: s.at, holder });
                }
            } else {
                wrong_run = 0;
            }
        } else {
            wrong_run = 0;
        }
    }
    windows
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn report(
    mix: Mix,
    schedule: &Schedule,
    played: &[Played],
    violations: &[Violation],
    stats: &Stats,
    (pings, samples): (&[(f64, bool)], &[Sample]),
    cluster: &Cluster,
) -> String {
    let mut r = String::new();
    let _ = writeln!(
        r,
        "fault campaign: seed {} · {} faults · cluster {} ({}){}",
        schedule.seed,
        schedule.faults.len(),
        mix.name(),
        (0..cluster.directors.len())
            .map(|d| format!("d{} {}", d + 1, mix.of(d).name()))
            .collect::<Vec<_>>()
            .join(", "),
        if cluster.setup.bfd {
            " · BFD 10 ms x 3 with takeover"
        } else {
            ""
        }
    );
    if cluster.setup.ipvs {
        let _ = writeln!(r, "replay: SEED and FAULTS in tests/chaos_vm.rs");
    } else {
        let _ = writeln!(
            r,
            "replay: LVSDECK_CHAOS_SEED={} LVSDECK_CHAOS_FAULTS={} LVSDECK_CHAOS_MIX={}{} cargo test \
             --test chaos_netns -- --ignored --nocapture replay",
            schedule.seed,
            schedule.faults.len(),
            mix.name(),
            if cluster.setup.bfd {
                " LVSDECK_CHAOS_BFD=1"
            } else {
                ""
            }
        );
    }
    for p in played {
        let f = &p.fault;
        let until = p.healed_at.unwrap_or(p.applied_at) + SETTLE;
        let window: Vec<_> = pings
            .iter()
            .filter(|(t, _)| *t >= p.applied_at.as_secs_f64() && *t < until.as_secs_f64())
            .collect();
        let lost = window.iter().filter(|(_, ok)| !ok).count();
        let split = samples
            .iter()
            .filter(|s| s.at >= p.applied_at && s.at < until && s.macs.len() >= 2)
            .count() as u32;
        let _ = writeln!(
            r,
            "  #{:<3} d{} {:<28} {:>7.2}..{:<7} {} · pings lost {lost}/{} · two MACs {}",
            f.id,
            f.director + 1,
            f.kind.to_string(),
            p.applied_at.as_secs_f64(),
            p.healed_at
                .map_or("-".into(), |h| format!("{:.2}", h.as_secs_f64())),
            match &p.applied {
                Ok(()) => "ok".to_string(),
                Err(e) => e.lines().next().unwrap_or("").to_string(),
            },
            window.len(),
            secs(SAMPLE_EVERY * split)
        );
    }
    let _ = writeln!(
        r,
        "applied {} (n/a {}) · split brain after heal {} · in faults {} · dead/frozen holder {} · \
         VIP-less {} · pings lost {}/{}",
        stats.applied,
        stats.not_applicable,
        secs(stats.split_brain_after_heal),
        secs(stats.split_brain_in_faults),
        secs(stats.dead_holder),
        secs(stats.vip_less),
        stats.pings_lost,
        stats.pings
    );
    if stats.ipvs_polls > 0 {
        let _ = writeln!(
            r,
            "IPVS: {} polls of every director's table; connections at the last: {:?}",
            stats.ipvs_polls, stats.ipvs_conns
        );
    }
    let _ = writeln!(r, "violations: {}", violations.len());
    // A dead holder is one violation per sample: each episode on one line, all of them.
    let mut episodes: Vec<(usize, Duration, Duration, usize)> = Vec::new();
    for v in violations {
        match (v, episodes.last_mut()) {
            (Violation::DeadHolder { at, director, .. }, Some((d, _, to, n)))
                if d == director && *at <= *to + 2 * SAMPLE_EVERY =>
            {
                (*to, *n) = (*at, *n + 1);
            }
            (Violation::DeadHolder { at, director, .. }, _) => {
                episodes.push((*director, *at, *at, 1));
            }
            _ => {}
        }
    }
    for (d, from, to, n) in &episodes {
        let _ = writeln!(
            r,
            "  dead holder: {} answered {:.2}..{:.2} s ({n} samples)",
            cluster::host(*d),
            from.as_secs_f64(),
            to.as_secs_f64()
        );
    }
    for v in violations
        .iter()
        .filter(|v| !matches!(v, Violation::DeadHolder { .. }))
        .take(40)
    {
        let _ = writeln!(r, "  {v:?}");
    }
    // Kept after a violation, or when asked (LVSDECK_CHAOS_KEEP=1: to read a passing run).
    let asked = std::env::var("LVSDECK_CHAOS_KEEP").is_ok_and(|v| v == "1");
    if !violations.is_empty() || asked {
        let keep =
            std::env::temp_dir().join(format!("lvsdeck-chaos-{}-{}", mix.name(), schedule.seed));
        let _ = std::fs::create_dir_all(&keep);
        for (name, text) in cluster.logs() {
            let _ = std::fs::write(keep.join(name.split(' ').next().unwrap_or("log")), &text);
            let tail: Vec<&str> = text.lines().rev().take(120).collect();
            let _ = writeln!(r, "--- {name}, last {} lines", tail.len());
            for line in tail.iter().rev() {
                let _ = writeln!(r, "{line}");
            }
        }
        let _ = writeln!(r, "logs kept in {}", keep.display());
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use schedule::Window;

    const S: Duration = Duration::from_secs(1);

    fn played(id: usize, director: usize, kind: Kind, from: Duration, to: Duration) -> Played {
        let fault = Fault {
            id,
            director,
            kind,
            start: from,
            heal: to,
        };
        Played {
            fault,
            applied_at: from,
            applied: Ok(()),
            healed_at: Some(to),
        }
    }

    /// The DeadHolder violations when d1 (killed at 1.5 s, back at 8 s) answers until 7.85 s.
    fn dead_holder_violations(mut faults: Vec<Played>) -> usize {
        faults.push(played(3, 0, Kind::Kill, 3 * S / 2, 8 * S));
        let schedule = Schedule {
            seed: 0,
            faults: faults.iter().map(|p| p.fault.clone()).collect(),
            checks: vec![Window {
                from: 20 * S,
                to: 21 * S,
            }],
            end: 21 * S,
        };
        let samples: Vec<Sample> = (30..158)
            .map(|i| Sample {
                at: i * SAMPLE_EVERY,
                macs: vec![cluster::mac(0)],
            })
            .collect();
        let mut violations = Vec::new();
        judge(
            &schedule,
            &mut faults,
            &samples,
            (Mix::Lvsdeck, 3),
            SETTLE,
            &mut violations,
            &mut Stats::default(),
        );
        violations
            .iter()
            .filter(|v| matches!(v, Violation::DeadHolder { .. }))
            .count()
    }

    #[test]
    fn a_dead_director_keeping_its_vip_while_no_other_could_take_over_is_no_fault() {
        // Seed 1000's faults #737-#739: d2 killed, d3's cable pulled until 4.5 s; d3 could take
        // over from 4.5 s + DEAD_GRACE only, after d1's last sample.
        let impaired = vec![
            played(1, 1, Kind::Kill, S / 2, 15 * S / 2),
            played(2, 2, Kind::Cable, S, 9 * S / 2),
        ];
        assert_eq!(dead_holder_violations(impaired), 0);
        // d3 able all along: d1 answering beyond DEAD_GRACE is a fault.
        let d2_only = vec![played(1, 1, Kind::Kill, S / 2, 15 * S / 2)];
        let got = dead_holder_violations(d2_only);
        assert_eq!(
            got, 41,
            "the samples after 1.5 s + DEAD_GRACE: 5.85 s to 7.85 s"
        );
        // One dropping only incoming VRRP becomes master and is heard: it could take over.
        let incoming = vec![
            played(1, 1, Kind::Kill, S / 2, 15 * S / 2),
            played(2, 2, Kind::Partition { both_ways: false }, S, 9 * S / 2),
        ];
        assert_eq!(dead_holder_violations(incoming), got);
    }
}
