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
//! test --test chaos_netns -- --nocapture replay` (mix: lvsdeck, mixed or keepalived).

pub mod cluster;
pub mod observer;
pub mod schedule;

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use cluster::{Cluster, Impl, Mix, VIP};
use observer::{SAMPLE_EVERY, Sample};
use schedule::{DIRECTORS, Fault, Kind, Schedule};

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
}

impl Violation {
    /// Whether the violation is lvsdeck's to answer for: a dead holder is its director's; what
    /// the cluster shows after a heal is every implementation's in it.
    pub fn involves_lvsdeck(&self, mix: Mix) -> bool {
        match self {
            Violation::DeadHolder { which, .. } => *which == Impl::Lvsdeck,
            Violation::Exited { director, .. } => mix.of(*director) == Impl::Lvsdeck,
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
}

pub struct Outcome {
    pub violations: Vec<Violation>,
    pub stats: Stats,
    pub report: String,
}

fn director_of(mac: &[u8; 6]) -> Option<usize> {
    (0..DIRECTORS).find(|&d| cluster::mac(d) == *mac)
}

/// Play `faults` faults from `seed` on a cluster of `mix`; `tag` names its namespaces.
pub fn run(mix: Mix, seed: u64, faults: usize, tag: &str) -> Outcome {
    let schedule = Schedule::generate(seed, faults, SETTLE);
    let mut cluster = Cluster::build(mix, tag);
    let converged = crate::support::wait_until(Duration::from_secs(20), || {
        cluster.topo.holds("d1", VIP)
            && !cluster.topo.holds("d2", VIP)
            && !cluster.topo.holds("d3", VIP)
    });
    if converged.is_none() {
        let logs: String = cluster
            .logs()
            .iter()
            .map(|(n, t)| format!("--- {n}\n{t}\n"))
            .collect();
        panic!("{}: d1 never became the only master\n{logs}", mix.name());
    }
    std::thread::sleep(Duration::from_millis(1500));
    let t0 = Instant::now();
    let t0_wall = SystemTime::now();
    let ping_log = cluster.dir.0.join("ping.log");
    let ping = crate::support::Proc::spawn(
        &cluster.topo,
        "client",
        "ping",
        &["-D", "-O", "-n", "-i", "0.05", "-W", "1", VIP],
        ping_log.clone(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let client_ns = cluster.topo.ns("client");
    let (samples, played) = std::thread::scope(|s| {
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
        let played = play(&mut cluster, &schedule, t0);
        stop.store(true, Ordering::Relaxed);
        (observer.join().expect("observer"), played)
    });
    ping.signal(libc::SIGINT);
    let mut ping = ping;
    ping.wait_exit(Duration::from_secs(3));
    let pings = observer::pings(&ping.log_text(), t0_wall);
    let (mut played, exits) = played;
    let mut violations = exits;
    let mut stats = Stats::default();
    judge(
        &schedule,
        &mut played,
        &samples,
        mix,
        &mut violations,
        &mut stats,
    );
    stats.pings = pings.len();
    stats.pings_lost = pings.iter().filter(|(_, ok)| !ok).count();
    cluster.stop();
    let report = report(
        mix,
        &schedule,
        &played,
        &violations,
        &stats,
        &pings,
        &cluster,
    );
    Outcome {
        violations,
        stats,
        report,
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
    let mut killed = [false; DIRECTORS];
    let mut exits = Vec::new();
    let mut watch_until = |cluster: &mut Cluster, until: Duration, killed: &[bool; DIRECTORS]| {
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
                    cluster.start(d);
                }
            }
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
    mix: Mix,
    violations: &mut Vec<Violation>,
    stats: &mut Stats,
) {
    stats.applied = played.iter().filter(|p| p.applied.is_ok()).count();
    stats.not_applicable = played
        .iter()
        .filter(|p| p.applied.as_ref().is_err_and(|e| e.starts_with("n/a")))
        .count();
    // Each check window opens `SETTLE` after the last heal of its group as it was played.
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
            (w.from.max(last_heal + SETTLE), w.to)
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
    pings: &[(f64, bool)],
    cluster: &Cluster,
) -> String {
    let mut r = String::new();
    let _ = writeln!(
        r,
        "fault campaign: seed {} · {} faults · cluster {} (d1 {}, d2 {}, d3 {})",
        schedule.seed,
        schedule.faults.len(),
        mix.name(),
        mix.of(0).name(),
        mix.of(1).name(),
        mix.of(2).name()
    );
    let _ = writeln!(
        r,
        "replay: LVSDECK_CHAOS_SEED={} LVSDECK_CHAOS_FAULTS={} LVSDECK_CHAOS_MIX={} cargo test --test chaos_netns -- --nocapture replay",
        schedule.seed,
        schedule.faults.len(),
        mix.name()
    );
    for p in played {
        let f = &p.fault;
        let until = p.healed_at.unwrap_or(p.applied_at) + SETTLE;
        let window: Vec<_> = pings
            .iter()
            .filter(|(t, _)| *t >= p.applied_at.as_secs_f64() && *t < until.as_secs_f64())
            .collect();
        let lost = window.iter().filter(|(_, ok)| !ok).count();
        let _ = writeln!(
            r,
            "  #{:<3} d{} {:<28} {:>7.2}..{:<7} {} · pings lost {lost}/{}",
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
            window.len()
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
    let _ = writeln!(r, "violations: {}", violations.len());
    for v in violations.iter().take(40) {
        let _ = writeln!(r, "  {v:?}");
    }
    if !violations.is_empty() {
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
