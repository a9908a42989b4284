//! What the simulator plays: a seeded random generator, the directors and their trackers,
//! and the schedule of inputs (crashes, partitions, hand-overs, priority changes).

use super::*;

/// splitmix64: small, fast, good enough to drive schedules.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
    /// True with probability `permille / 1000`.
    pub fn chance(&mut self, permille: u32) -> bool {
        self.below(1000) < u64::from(permille)
    }
    /// Uniform in `lo..=hi`.
    pub fn duration(&mut self, lo: Duration, hi: Duration) -> Duration {
        let span = (hi - lo).as_nanos() as u64;
        lo + Duration::from_nanos(self.below(span + 1))
    }
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// One scheduled input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Power-off: the instance and its VIPs vanish.
    Crash(usize),
    /// Power-on after a crash: a new instance (trackers re-applied, no override).
    Restart(usize),
    /// Graceful stop ([`Instance::shutdown`]).
    Stop(usize),
    /// Start after a stop ([`Instance::startup`]).
    Start(usize),
    Override(usize, Option<u8>),
    Tracker {
        node: usize,
        tracker: usize,
        up: bool,
    },
    /// Hand-over on whichever node is Master at that moment (the first one, if several).
    Handover,
    ClearInhibit(usize),
    /// Bit `i` gives the side of node `i`.
    Partition(u8),
    Heal,
    /// Loss probability in permille.
    Loss(u32),
    /// Duplication probability in permille.
    Dup(u32),
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Input::Crash(n) => write!(f, "crash n{n}"),
            Input::Restart(n) => write!(f, "restart n{n}"),
            Input::Stop(n) => write!(f, "stop n{n}"),
            Input::Start(n) => write!(f, "start n{n}"),
            Input::Override(n, p) => write!(f, "override n{n} {p:?}"),
            Input::Tracker { node, tracker, up } => {
                write!(
                    f,
                    "tracker n{node} t{tracker} {}",
                    if *up { "up" } else { "down" }
                )
            }
            Input::Handover => write!(f, "hand-over on the master"),
            Input::ClearInhibit(n) => write!(f, "clear inhibit n{n}"),
            Input::Partition(m) => write!(f, "partition sides {m:#06b}"),
            Input::Heal => write!(f, "heal"),
            Input::Loss(p) => write!(f, "loss {p}‰"),
            Input::Dup(p) => write!(f, "dup {p}‰"),
        }
    }
}

/// A tracker of a node: name, weight, initial status.
#[derive(Debug, Clone)]
pub struct TrackerSpec {
    pub name: String,
    pub weight: i32,
    pub up: bool,
}

#[derive(Debug, Clone)]
pub struct NodeSpec {
    pub params: InstanceParams,
    pub trackers: Vec<TrackerSpec>,
}

/// A whole run: nodes, network and inputs.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub seed: u64,
    pub nodes: Vec<NodeSpec>,
    pub delay_min: Duration,
    pub delay_max: Duration,
    /// Initial loss and duplication, permille.
    pub loss: u32,
    pub dup: u32,
    /// Inputs by time from the start (sorted).
    pub inputs: Vec<(Duration, Input)>,
    /// End of the run.
    pub end: Duration,
}

pub(super) fn addr(v6: bool, i: usize) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::new(0xfd77, 0, 0, 0, 0, 0, 0, 0x71 + i as u16))
    } else {
        IpAddr::V4(Ipv4Addr::new(10, 77, 0, 71 + i as u8))
    }
}

impl Scenario {
    /// A short random schedule: 2 to 4 nodes, v2 or v3, random intervals, priorities,
    /// preemption, trackers and inputs, ending with a quiet, whole period.
    pub fn random(seed: u64) -> Scenario {
        let mut r = Rng::new(seed);
        let n = r.pick(&[2usize, 2, 3, 3, 4]);
        let version = if r.chance(300) {
            Version::V2
        } else {
            Version::V3
        };
        let v6 = version == Version::V3 && r.chance(200);
        let base_interval = match version {
            Version::V2 => Duration::from_secs(r.pick(&[1, 1, 1, 2])),
            Version::V3 => Duration::from_millis(r.pick(&[100, 100, 200, 300, 1000])),
        };
        let mixed = version == Version::V3 && r.chance(150);
        let owner = r.chance(100);
        let auth = (version == Version::V2 && r.chance(300)).then_some(*b"s3cr3t\0\0");
        let vip = if v6 {
            IpAddr::V6(Ipv6Addr::new(0xfd77, 0, 0, 0, 0, 0, 0, 0x100))
        } else {
            IpAddr::V4(Ipv4Addr::new(10, 77, 0, 100))
        };
        let mut nodes: Vec<NodeSpec> = Vec::with_capacity(n);
        for i in 0..n {
            let mut prio = 1 + r.below(254) as u8;
            if i > 0 && r.chance(200) {
                prio = nodes[r.below(i as u64) as usize].params.priority.min(254);
            }
            if i == 0 && owner {
                prio = 255;
            }
            let mut p = InstanceParams::new("VI_1", version, 51, prio, addr(v6, i), vec![vip]);
            p.advert_interval = if mixed {
                Duration::from_millis(r.pick(&[100, 200, 300]))
            } else {
                base_interval
            };
            p.preempt = !r.chance(150);
            if p.preempt && r.chance(150) {
                p.preempt_delay = p.advert_interval * (1 + r.below(3) as u32);
            }
            if r.chance(200) {
                p.initial_state = InitialState::Master;
            }
            p.auth = auth;
            p.garp.master_delay = p.advert_interval * r.below(4) as u32;
            p.garp.master_repeat = r.below(3) as u8;
            if r.chance(200) {
                p.garp.master_refresh = Some(p.advert_interval * 5);
            }
            p.garp.lower_prio_delay = p.advert_interval;
            p.handover.spacing = p.advert_interval / 20;
            debug_assert_eq!(p.validate(), Ok(()));
            let trackers = (0..r.below(3))
                .map(|k| TrackerSpec {
                    name: format!("t{k}"),
                    weight: if r.chance(300) {
                        0
                    } else {
                        r.below(121) as i32 - 60
                    },
                    up: !r.chance(150),
                })
                .collect();
            nodes.push(NodeSpec {
                params: p,
                trackers,
            });
        }
        let i_max = nodes
            .iter()
            .map(|s| s.params.advert_interval)
            .max()
            .unwrap();
        let i_min = nodes
            .iter()
            .map(|s| s.params.advert_interval)
            .min()
            .unwrap();
        let delay_min = Duration::from_micros(r.below(1000));
        let delay_max = delay_min + r.duration(Duration::ZERO, (i_min / 5).min(ms(30)));
        for s in &mut nodes {
            s.params.handover.guard = delay_max * 2;
            // The last priority-0 advert then arrives after any advert sent before it.
            s.params.handover.spacing = s.params.handover.spacing.max(delay_max);
        }
        let horizon = i_max * (10 + r.below(20) as u32);
        let mut inputs = Vec::new();
        for _ in 0..(2 + r.below(10)) {
            let at = r.duration(Duration::ZERO, horizon);
            let node = r.below(n as u64) as usize;
            let input = match r.below(100) {
                0..=11 => Input::Crash(node),
                12..=23 => Input::Restart(node),
                24..=28 => Input::Stop(node),
                29..=33 => Input::Start(node),
                34..=43 => Input::Override(
                    node,
                    if r.chance(300) {
                        None
                    } else {
                        Some(1 + r.below(254) as u8)
                    },
                ),
                44..=57 if !nodes[node].trackers.is_empty() => Input::Tracker {
                    node,
                    tracker: r.below(nodes[node].trackers.len() as u64) as usize,
                    up: r.chance(500),
                },
                44..=72 => Input::Handover,
                73..=77 => Input::ClearInhibit(node),
                78..=85 => Input::Partition(1 + r.below((1 << n) - 2) as u8),
                86..=89 => Input::Heal,
                90..=96 => Input::Loss(r.pick(&[0, 0, 50, 200, 500])),
                _ => Input::Dup(r.pick(&[0, 100, 300])),
            };
            inputs.push((at, input));
        }
        inputs.sort_by_key(|(t, _)| *t);
        // The quiet end: whole network, then long enough to settle and check.
        inputs.push((horizon, Input::Heal));
        inputs.push((horizon, Input::Loss(0)));
        let mut sc = Scenario {
            seed,
            nodes,
            delay_min,
            delay_max,
            loss: r.pick(&[0, 0, 0, 20, 100]),
            dup: r.pick(&[0, 0, 50]),
            inputs,
            end: Duration::ZERO,
        };
        sc.end = horizon + sc.settle() + i_max * 5;
        sc
    }

    /// The longest Master_Down_Interval any instance can run (v3 learns up to the largest
    /// interval; Skew_Time < one interval in v3, < 1 s in v2).
    pub fn max_master_down_interval(&self) -> Duration {
        let i_max = self.max_advert_interval();
        self.nodes
            .iter()
            .map(|s| match s.params.version {
                Version::V2 => s.params.advert_interval * 3 + Duration::from_secs(1),
                Version::V3 => i_max * 4,
            })
            .max()
            .unwrap_or_default()
    }

    /// The longest advert interval of any node.
    pub fn max_advert_interval(&self) -> Duration {
        self.nodes
            .iter()
            .map(|s| s.params.advert_interval)
            .max()
            .unwrap_or_default()
    }

    /// How long the network must be whole and quiet before the convergence checks apply.
    pub fn settle(&self) -> Duration {
        let i_max = self.max_advert_interval();
        let mdi_max = self.max_master_down_interval();
        let p_max = self
            .nodes
            .iter()
            .map(|s| s.params.preempt_delay)
            .max()
            .unwrap_or_default();
        p_max + mdi_max * 2 + i_max + self.delay_max * 4
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "seed {} | delay {:?}..{:?} loss {}‰ dup {}‰ | settle {:?} end {:?}",
            self.seed,
            self.delay_min,
            self.delay_max,
            self.loss,
            self.dup,
            self.settle(),
            self.end
        )?;
        for (i, s) in self.nodes.iter().enumerate() {
            let p = &s.params;
            write!(
                f,
                "  n{i} {} {:?} prio {} int {:?} preempt {} delay {:?} init {:?} auth {}",
                p.primary_addr,
                p.version,
                p.priority,
                p.advert_interval,
                p.preempt,
                p.preempt_delay,
                p.initial_state,
                p.auth.is_some()
            )?;
            for t in &s.trackers {
                write!(
                    f,
                    " [{} w{} {}]",
                    t.name,
                    t.weight,
                    if t.up { "up" } else { "down" }
                )?;
            }
            writeln!(f)?;
        }
        for (t, i) in &self.inputs {
            writeln!(f, "  @{:>10.4}s {i}", t.as_secs_f64())?;
        }
        Ok(())
    }
}
