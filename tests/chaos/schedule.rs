//! A seeded schedule of faults (pure): the same seed gives the same schedule, whatever cluster
//! it is played on. Faults come in groups of one to three on distinct directors, overlapping;
//! after each group is healed the cluster has `settle` (one Master_Down_Interval + 1 s) to
//! converge, then a check window in which exactly one director, the highest-priority one, must
//! answer for the VIP.

use std::fmt;
use std::time::Duration;

/// How long a check window lasts after the cluster has settled.
pub const CHECK: Duration = Duration::from_millis(1500);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `kill -9` of the daemon; healed by starting it again 0.3-8 s later (a supervisor's
    /// restart delay, or a start limit hit).
    Kill,
    /// SIGSTOP; healed by SIGCONT.
    Freeze,
    /// The director's switch port down (cable pulled).
    Cable,
    /// nftables drops VRRP coming in (one way) or both ways.
    Partition { both_ways: bool },
    /// Random loss of the director's outgoing packets: `tc netem` with a delay of 3 ms per
    /// percent lost where the kernel has it (the VM), nftables `numgen` without delay where
    /// not (this host).
    Loss { pct: u8 },
    /// The configuration rewritten with another priority, SIGHUP; healed by the original.
    Reload { priority: u8 },
    /// An operator hand-over from the master (lvsdeck only); healed by `ctl clear`.
    Handover,
    /// An operator's priority override (lvsdeck only); healed by clearing it.
    Override { priority: u8 },
    /// The tracked vrrp_script (weight -80) flaps: fails, passes, fails... every 1.3 s; healed
    /// when it passes again for good.
    ScriptFlap,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::Kill => write!(f, "kill -9 + restart"),
            Kind::Freeze => write!(f, "SIGSTOP/SIGCONT"),
            Kind::Cable => write!(f, "cable pulled"),
            Kind::Partition { both_ways: true } => write!(f, "VRRP partition, both ways"),
            Kind::Partition { both_ways: false } => write!(f, "VRRP partition, incoming"),
            Kind::Loss { pct } => write!(f, "{pct}% of its packets lost"),
            Kind::Reload { priority } => write!(f, "reload with priority {priority}"),
            Kind::Handover => write!(f, "operator hand-over"),
            Kind::Override { priority } => write!(f, "priority override {priority}"),
            Kind::ScriptFlap => write!(f, "vrrp_script flaps"),
        }
    }
}

impl Kind {
    /// Whether the fault needs lvsdeck's control socket (keepalived has no equivalent).
    pub fn lvsdeck_only(self) -> bool {
        matches!(self, Kind::Handover | Kind::Override { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub id: usize,
    /// 0-based: director d1 is 0 (the highest priority).
    pub director: usize,
    pub kind: Kind,
    pub start: Duration,
    pub heal: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: Duration,
    pub to: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub seed: u64,
    pub faults: Vec<Fault>,
    /// One check window after each group of faults.
    pub checks: Vec<Window>,
    pub end: Duration,
}

/// splitmix64: small, seedable, and the same on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.range(0, items.len() as u64) as usize]
    }
}

fn kind(rng: &mut Rng, director: usize) -> (Kind, Duration) {
    loop {
        let (kind, lo, hi) = match rng.range(0, 9) {
            0 => (Kind::Kill, 300, 8000),
            1 => (Kind::Freeze, 1000, 8000),
            2 => (Kind::Cable, 500, 5000),
            3 => (
                Kind::Partition {
                    both_ways: rng.range(0, 2) == 1,
                },
                1000,
                6000,
            ),
            4 => (
                Kind::Loss {
                    pct: rng.range(10, 61) as u8,
                },
                2000,
                6000,
            ),
            5 => (
                Kind::Reload {
                    priority: rng.pick(&[30, 80, 120, 200]),
                },
                2000,
                5000,
            ),
            6 => (Kind::Handover, 3000, 6000),
            7 => (
                Kind::Override {
                    priority: rng.pick(&[20, 120, 200]),
                },
                2000,
                5000,
            ),
            _ => (Kind::ScriptFlap, 2000, 5000),
        };
        // A hand-over is the master's: d1, at the start of a group.
        if kind == Kind::Handover && director != 0 {
            continue;
        }
        return (kind, Duration::from_millis(rng.range(lo, hi)));
    }
}

impl Schedule {
    /// `faults` faults from `seed` on `directors` directors; `settle`: from a group's last
    /// heal to its check window.
    pub fn generate(seed: u64, faults: usize, directors: usize, settle: Duration) -> Schedule {
        let mut rng = Rng::new(seed);
        let mut out = Vec::new();
        let mut checks = Vec::new();
        let mut t = Duration::ZERO;
        while out.len() < faults {
            let size = (rng.range(1, 4) as usize)
                .min(faults - out.len())
                .min(directors);
            let mut free: Vec<usize> = (0..directors).collect();
            let mut group_end = t;
            for _ in 0..size {
                let director = free.remove(rng.range(0, free.len() as u64) as usize);
                let (kind, hold) = kind(&mut rng, director);
                let start = t + Duration::from_millis(rng.range(0, 1500));
                let heal = start + hold;
                group_end = group_end.max(heal);
                out.push(Fault {
                    id: out.len() + 1,
                    director,
                    kind,
                    start,
                    heal,
                });
            }
            let from = group_end + settle;
            checks.push(Window {
                from,
                to: from + CHECK,
            });
            t = from + CHECK;
        }
        Schedule {
            seed,
            faults: out,
            checks,
            end: t,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_schedule() {
        let settle = Duration::from_millis(4800);
        let a = Schedule::generate(7, 30, 3, settle);
        assert_eq!(a, Schedule::generate(7, 30, 3, settle));
        assert_ne!(a, Schedule::generate(8, 30, 3, settle));
        assert_eq!(a.faults.len(), 30);
    }

    #[test]
    fn groups_overlap_on_distinct_directors_and_end_before_their_check() {
        let s = Schedule::generate(2026, 1000, 3, Duration::from_millis(4800));
        let mut kinds = std::collections::HashSet::new();
        for f in &s.faults {
            kinds.insert(std::mem::discriminant(&f.kind));
            assert!(f.heal > f.start);
            if f.kind == Kind::Handover {
                assert_eq!(f.director, 0);
            }
            // Every fault is healed before the next check window opens.
            let w = s.checks.iter().find(|w| w.from > f.start).unwrap();
            assert!(f.heal + Duration::from_millis(4800) <= w.from);
            // No two faults on one director at once.
            for g in &s.faults {
                if g.id != f.id && g.director == f.director {
                    assert!(g.heal <= f.start || g.start >= f.heal, "{f:?} {g:?}");
                }
            }
        }
        assert_eq!(kinds.len(), 9, "every kind of fault is drawn");
        let overlapping = s
            .faults
            .windows(2)
            .filter(|p| p[1].start < p[0].heal)
            .count();
        assert!(overlapping > 100, "faults overlap: {overlapping}");
    }
}
