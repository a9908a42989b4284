//! Pure bookkeeping: one checker's up / down state and next due time, and a real server's state
//! from all of its checkers. No I/O, no clock: `now` is a parameter.
//!
//! The rules are keepalived's (`check_tcp.c` `tcp_epilog`, `check_misc.c`, `check_data.c`,
//! `ipwrapper.c` `update_svr_checker_state`), which has no rise / fall for real servers:
//!
//! - **start**: a checker starts UP, or DOWN with `alpha`. The first attempt comes after a
//!   bootstrap delay plus a random part of `warmup` (keepalived: 1 s + random(0..=warmup), warmup
//!   defaulting to delay_loop), so that checks spread out.
//! - **retry**: keepalived's `retry` counts *retries*: an UP checker goes DOWN after `retry + 1`
//!   failed attempts in a row (`retry 0`: at the first failure). The retries are spaced by
//!   `delay_before_retry`, not `delay_loop`. At startup one failure is enough ("for non alpha mode,
//!   one failure is enough initially"): a server that is down when the director starts is not
//!   kept in the table for retry × delay_before_retry.
//! - **success**: one success brings a DOWN checker UP and clears the retry count.
//! - **DOWN** checkers are attempted every `delay_loop` (no retries: nothing to confirm).
//! - **several checkers** on a real server: it is up only while all of them are up.
//! - **misc_dynamic**: a script's exit code 2..=255 keeps it up with weight `code - 2`; the
//!   server's weight is the configured weight plus the sum of each dynamic checker's difference
//!   from it (keepalived's `cur_weight`); exit 0 puts the configured weight back.
//!
//! Tracking scripts (`vrrp_script`) use [`Policy::RiseFall`] instead: `rise` successes in a row
//! to go up, `fall` failures to go down, the first result deciding at once, one attempt every
//! interval — the same counting as the VRRP runner's `ScriptHealth`.

use std::time::{Duration, Instant};

/// How results turn into up / down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// keepalived's real-server checkers: DOWN after `retry + 1` failed attempts in a row
    /// (spaced by delay_before_retry); UP at the first success.
    Retry { retry: u32 },
    /// Tracking scripts: `rise` successes in a row to go up, `fall` failures to go down.
    RiseFall { rise: u32, fall: u32 },
}

/// When attempts happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Between attempts in the normal course.
    pub delay_loop: Duration,
    /// Between a failed attempt of an UP checker and its retry.
    pub delay_before_retry: Duration,
    /// The first attempt comes at a random point of this window (after the bootstrap delay).
    pub warmup: Duration,
}

/// What one attempt said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Success; `weight`: what it does to the server's weight (None: nothing).
    Up {
        weight: Option<WeightSet>,
    },
    Down,
    /// No attempt could be made: its source address (`bindto`) cannot be bound. keepalived
    /// logs "socket bind failed. Rescheduling." and leaves the checker as it was until the next
    /// `delay_loop`; so does lvsdeck.
    NotRun,
}

/// What a successful attempt does to its server's weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightSet {
    /// A misc_dynamic script's weight (exit code - 2): its difference from the configured
    /// weight counts.
    To(u32),
    /// A FILE_CHECK's value × weight, added.
    By(i64),
}

/// What recording one attempt led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// When the next attempt is due.
    pub next_due: Instant,
    /// The checker's new state when it changed.
    pub became: Option<bool>,
    /// The attempt failed and a retry follows (the checker is still up).
    pub retrying: bool,
    /// Failed attempts in a row, this one included (0 after a success).
    pub failures_in_a_row: u32,
}

/// One checker's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckState {
    policy: Policy,
    timing: Timing,
    up: Option<bool>,
    has_run: bool,
    /// keepalived's `retry_it`.
    retry_it: u32,
    successes: u32,
    failures: u32,
    weight: Option<WeightSet>,
}

impl CheckState {
    /// A checker before its first attempt: UP (DOWN with `alpha`) under [`Policy::Retry`],
    /// unknown under [`Policy::RiseFall`].
    pub fn new(policy: Policy, timing: Timing, alpha: bool) -> Self {
        let (up, retry_it) = match policy {
            // keepalived sets retry_it = retry at startup: one failure is enough initially.
            Policy::Retry { retry } => (Some(!alpha), retry),
            Policy::RiseFall { .. } => (None, 0),
        };
        Self {
            policy,
            timing,
            up,
            has_run: false,
            retry_it,
            successes: 0,
            failures: 0,
            weight: None,
        }
    }

    pub fn up(&self) -> Option<bool> {
        self.up
    }

    pub fn has_run(&self) -> bool {
        self.has_run
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    pub fn timing(&self) -> Timing {
        self.timing
    }

    /// The weight this checker sets (None: it leaves the configured weight).
    pub fn weight(&self) -> Option<WeightSet> {
        self.weight
    }

    /// Failed attempts in a row so far.
    pub fn failures_in_a_row(&self) -> u32 {
        self.failures
    }

    /// When the first attempt is due: `now + bootstrap + random × warmup`, with `random` in
    /// 0.0..=1.0 (clamped) drawn by the caller. The bootstrap delay is the real-server
    /// checkers' (keepalived's BOOTSTRAP_DELAY); a tracking script runs at once, as keepalived
    /// runs a vrrp_script when it starts (measured: 0.04 s after start).
    pub fn first_due(&self, now: Instant, bootstrap: Duration, random: f64) -> Instant {
        let r = if random.is_finite() {
            random.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let bootstrap = match self.policy {
            Policy::Retry { .. } => bootstrap,
            Policy::RiseFall { .. } => Duration::ZERO,
        };
        now + bootstrap + self.timing.warmup.mul_f64(r)
    }

    /// Count one attempt that ended at `now`.
    pub fn record(&mut self, now: Instant, outcome: Outcome) -> Recorded {
        if outcome == Outcome::NotRun {
            return Recorded {
                next_due: now + self.timing.delay_loop,
                became: None,
                retrying: false,
                failures_in_a_row: self.failures,
            };
        }
        let before = self.up;
        let ok = matches!(outcome, Outcome::Up { .. });
        if ok {
            self.successes = self.successes.saturating_add(1);
            self.failures = 0;
        } else {
            self.failures = self.failures.saturating_add(1);
            self.successes = 0;
        }
        let mut delay = self.timing.delay_loop;
        let mut retrying = false;
        match self.policy {
            Policy::Retry { retry } => match outcome {
                Outcome::Up { weight } => {
                    self.retry_it = 0;
                    self.up = Some(true);
                    self.weight = weight;
                }
                Outcome::NotRun => unreachable!("returned above"),
                Outcome::Down => {
                    let up = self.up == Some(true);
                    self.weight = None;
                    if (up || !self.has_run) && self.retry_it >= retry {
                        self.retry_it = 0;
                        self.up = Some(false);
                    } else if up {
                        self.retry_it += 1;
                        delay = self.timing.delay_before_retry;
                        retrying = true;
                    }
                }
            },
            Policy::RiseFall { rise, fall } => {
                self.weight = None;
                self.up = match self.up {
                    None => Some(ok),
                    Some(false) if self.successes >= rise.max(1) => Some(true),
                    Some(true) if self.failures >= fall.max(1) => Some(false),
                    same => same,
                };
            }
        }
        self.has_run = true;
        Recorded {
            next_due: now + delay,
            became: (self.up != before).then_some(self.up).flatten(),
            retrying,
            failures_in_a_row: self.failures,
        }
    }
}

/// A real server's (or tracking script's) state from all its checkers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHealth {
    checks: Vec<CheckState>,
    configured_weight: i32,
}

/// What recording one attempt did to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerUpdate {
    pub check: Recorded,
    /// The server's new state when it changed.
    pub became: Option<bool>,
    /// (from, to) when the effective weight changed.
    pub weight: Option<(i32, i32)>,
}

impl ServerHealth {
    pub fn new(checks: Vec<CheckState>, configured_weight: i32) -> Self {
        Self {
            checks,
            configured_weight,
        }
    }

    pub fn checks(&self) -> &[CheckState] {
        &self.checks
    }

    pub fn check_mut(&mut self, i: usize) -> &mut CheckState {
        &mut self.checks[i]
    }

    pub fn configured_weight(&self) -> i32 {
        self.configured_weight
    }

    /// Up only while every checker is up; down as soon as one is down; unknown while a
    /// rise / fall checker has no result yet. A server without checkers is up.
    pub fn up(&self) -> Option<bool> {
        let mut unknown = false;
        for c in &self.checks {
            match c.up {
                Some(false) => return Some(false),
                None => unknown = true,
                Some(true) => {}
            }
        }
        if unknown { None } else { Some(true) }
    }

    /// The configured weight plus each dynamic checker's difference from it, at least 0.
    pub fn weight(&self) -> i32 {
        let base = i64::from(self.configured_weight);
        let sum: i64 = self
            .checks
            .iter()
            .filter_map(|c| c.weight)
            .map(|w| match w {
                WeightSet::To(w) => i64::from(w) - base,
                WeightSet::By(d) => d,
            })
            .sum();
        (base + sum).clamp(0, i64::from(i32::MAX)) as i32
    }

    /// Count one attempt of checker `i` that ended at `now`.
    pub fn record(&mut self, i: usize, now: Instant, outcome: Outcome) -> ServerUpdate {
        let (up, weight) = (self.up(), self.weight());
        let check = self.checks[i].record(now, outcome);
        let (up2, weight2) = (self.up(), self.weight());
        ServerUpdate {
            check,
            became: (up2 != up).then_some(up2).flatten(),
            weight: (weight2 != weight).then_some((weight, weight2)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn timing() -> Timing {
        Timing {
            delay_loop: 6 * S,
            delay_before_retry: S,
            warmup: 6 * S,
        }
    }

    fn retry(n: u32, alpha: bool) -> CheckState {
        CheckState::new(Policy::Retry { retry: n }, timing(), alpha)
    }

    const UP: Outcome = Outcome::Up { weight: None };
    const DOWN: Outcome = Outcome::Down;

    /// Feed outcomes one after the other, each at the previous record's next due time;
    /// returns (state after, change, delay to next) per step.
    fn run(c: &mut CheckState, seq: &[Outcome]) -> Vec<(Option<bool>, Option<bool>, Duration)> {
        let t0 = Instant::now();
        let mut now = t0;
        let mut out = Vec::new();
        for o in seq {
            let r = c.record(now, *o);
            out.push((c.up(), r.became, r.next_due - now));
            now = r.next_due;
        }
        out
    }

    #[test]
    fn starts_up_by_default_and_down_with_alpha() {
        assert_eq!(retry(1, false).up(), Some(true));
        assert_eq!(retry(1, true).up(), Some(false));
        let rf = CheckState::new(Policy::RiseFall { rise: 2, fall: 2 }, timing(), false);
        assert_eq!(rf.up(), None);
    }

    #[test]
    fn first_failure_is_enough_at_startup() {
        // keepalived: retry_it = retry at startup, so a server that is down when the director
        // starts goes out at once, whatever retry says.
        for n in [0, 1, 3] {
            let mut c = retry(n, false);
            let steps = run(&mut c, &[DOWN]);
            assert_eq!(steps[0], (Some(false), Some(false), 6 * S), "retry {n}");
        }
    }

    #[test]
    fn an_attempt_not_made_changes_nothing_and_waits_a_delay_loop() {
        // keepalived's "socket bind failed. Rescheduling.": not a failure, at startup (where
        // one failure would be enough), while retrying, or down.
        let mut c = retry(2, false);
        let steps = run(&mut c, &[Outcome::NotRun, Outcome::NotRun]);
        assert_eq!(steps, [(Some(true), None, 6 * S); 2]);
        let steps = run(&mut c, &[DOWN]);
        assert_eq!(
            steps[0].0,
            Some(false),
            "the first real failure still counts at startup"
        );
        let mut c = retry(2, false);
        run(&mut c, &[UP, DOWN]);
        let steps = run(&mut c, &[Outcome::NotRun, DOWN, DOWN]);
        assert_eq!(steps[0], (Some(true), None, 6 * S));
        assert_eq!(
            steps[2].1,
            Some(false),
            "the retries already counted stay counted"
        );
        let mut c = retry(0, true);
        assert_eq!(
            run(&mut c, &[Outcome::NotRun]),
            [(Some(false), None, 6 * S)]
        );
    }

    #[test]
    fn retry_counts_retries_after_the_first_failure() {
        for n in 0..5u32 {
            let mut c = retry(n, false);
            run(&mut c, &[UP]);
            let mut seq = vec![DOWN; n as usize + 1];
            seq.push(DOWN);
            let steps = run(&mut c, &seq);
            for (k, step) in steps.iter().enumerate().take(n as usize) {
                // Still up, retrying after delay_before_retry.
                assert_eq!(*step, (Some(true), None, S), "retry {n} attempt {k}");
            }
            assert_eq!(
                steps[n as usize],
                (Some(false), Some(false), 6 * S),
                "retry {n}: down after {} failures",
                n + 1
            );
            // Down: attempts every delay_loop, no change.
            assert_eq!(steps[n as usize + 1], (Some(false), None, 6 * S));
        }
    }

    #[test]
    fn a_success_between_failures_resets_the_count() {
        let mut c = retry(2, false);
        let steps = run(&mut c, &[UP, DOWN, DOWN, UP, DOWN, DOWN, UP]);
        assert!(steps.iter().all(|s| s.0 == Some(true)));
        assert!(steps.iter().all(|s| s.1.is_none()));
        let delays: Vec<_> = steps.iter().map(|s| s.2.as_secs()).collect();
        assert_eq!(delays, [6, 1, 1, 6, 1, 1, 6]);
    }

    #[test]
    fn one_success_brings_a_down_checker_up() {
        let mut c = retry(3, false);
        let steps = run(&mut c, &[DOWN, DOWN, UP, DOWN]);
        assert_eq!(steps[0].1, Some(false));
        assert_eq!(steps[1], (Some(false), None, 6 * S));
        assert_eq!(steps[2], (Some(true), Some(true), 6 * S));
        // Back up: the retries apply again.
        assert_eq!(steps[3], (Some(true), None, S));
    }

    #[test]
    fn alpha_stays_down_until_the_first_success() {
        let mut c = retry(1, true);
        let steps = run(&mut c, &[DOWN, DOWN, UP]);
        assert_eq!(steps[0], (Some(false), None, 6 * S));
        assert_eq!(steps[1], (Some(false), None, 6 * S));
        assert_eq!(steps[2], (Some(true), Some(true), 6 * S));
    }

    #[test]
    fn non_alpha_first_success_is_no_change() {
        let mut c = retry(1, false);
        let r = c.record(Instant::now(), UP);
        assert_eq!(r.became, None);
        assert!(c.has_run());
    }

    #[test]
    fn warmup_spreads_the_first_attempt() {
        let c = retry(1, false);
        let now = Instant::now();
        assert_eq!(c.first_due(now, S, 0.0), now + S);
        assert_eq!(c.first_due(now, S, 0.5), now + 4 * S);
        assert_eq!(c.first_due(now, S, 1.0), now + 7 * S);
        assert_eq!(c.first_due(now, S, 7.0), now + 7 * S);
        assert_eq!(c.first_due(now, S, f64::NAN), now + S);
        assert_eq!(c.first_due(now, Duration::ZERO, -1.0), now);
    }

    #[test]
    fn a_tracking_script_runs_at_once_without_the_checkers_bootstrap() {
        let t = Timing {
            warmup: Duration::ZERO,
            ..timing()
        };
        let c = CheckState::new(Policy::RiseFall { rise: 2, fall: 2 }, t, false);
        let now = Instant::now();
        assert_eq!(c.first_due(now, S, 0.5), now);
    }

    #[test]
    fn rise_and_fall_for_tracking_scripts() {
        let mut c = CheckState::new(Policy::RiseFall { rise: 2, fall: 3 }, timing(), false);
        let steps = run(&mut c, &[UP, DOWN, DOWN, DOWN, UP, UP, DOWN]);
        let states: Vec<_> = steps.iter().map(|s| (s.0, s.1)).collect();
        assert_eq!(
            states,
            [
                (Some(true), Some(true)),
                (Some(true), None),
                (Some(true), None),
                (Some(false), Some(false)),
                (Some(false), None),
                (Some(true), Some(true)),
                (Some(true), None),
            ]
        );
        // Always the interval: no retries.
        assert!(steps.iter().all(|s| s.2 == 6 * S));
        // The first result decides, a failure too.
        let mut c = CheckState::new(Policy::RiseFall { rise: 5, fall: 5 }, timing(), false);
        assert_eq!(run(&mut c, &[DOWN])[0].1, Some(false));
    }

    #[test]
    fn rise_fall_of_zero_counts_as_one() {
        let mut c = CheckState::new(Policy::RiseFall { rise: 0, fall: 0 }, timing(), false);
        let states: Vec<_> = run(&mut c, &[UP, DOWN, UP]).iter().map(|s| s.1).collect();
        assert_eq!(states, [Some(true), Some(false), Some(true)]);
    }

    #[test]
    fn failures_in_a_row_are_counted() {
        let mut c = retry(2, false);
        let now = Instant::now();
        c.record(now, UP);
        assert_eq!(c.record(now, DOWN).failures_in_a_row, 1);
        assert!(c.record(now, DOWN).retrying);
        let r = c.record(now, DOWN);
        assert_eq!(
            (r.failures_in_a_row, r.retrying, r.became),
            (3, false, Some(false))
        );
        assert_eq!(c.record(now, UP).failures_in_a_row, 0);
    }

    fn server(n: usize, alpha: bool) -> ServerHealth {
        ServerHealth::new((0..n).map(|_| retry(0, alpha)).collect(), 10)
    }

    #[test]
    fn a_server_is_up_only_while_all_checks_are() {
        let now = Instant::now();
        let mut s = server(2, false);
        assert_eq!(s.up(), Some(true));
        assert_eq!(s.record(0, now, UP).became, None);
        assert_eq!(s.record(1, now, DOWN).became, Some(false));
        // The other check going down too is no new change.
        assert_eq!(s.record(0, now, DOWN).became, None);
        // One coming back is not enough.
        assert_eq!(s.record(1, now, UP).became, None);
        assert_eq!(s.up(), Some(false));
        assert_eq!(s.record(0, now, UP).became, Some(true));
    }

    #[test]
    fn alpha_server_needs_every_check_to_succeed_once() {
        let now = Instant::now();
        let mut s = server(3, true);
        assert_eq!(s.up(), Some(false));
        assert_eq!(s.record(0, now, UP).became, None);
        assert_eq!(s.record(1, now, UP).became, None);
        assert_eq!(s.record(2, now, UP).became, Some(true));
    }

    #[test]
    fn a_server_without_checks_is_up() {
        let s = server(0, true);
        assert_eq!((s.up(), s.weight()), (Some(true), 10));
    }

    #[test]
    fn unknown_until_every_rise_fall_check_has_a_result() {
        let now = Instant::now();
        let rf = || CheckState::new(Policy::RiseFall { rise: 1, fall: 1 }, timing(), false);
        let mut s = ServerHealth::new(vec![rf(), rf()], 1);
        assert_eq!(s.up(), None);
        assert_eq!(s.record(0, now, UP).became, None);
        assert_eq!(s.record(1, now, UP).became, Some(true));
        let mut s = ServerHealth::new(vec![rf(), rf()], 1);
        assert_eq!(s.record(0, now, DOWN).became, Some(false));
    }

    #[test]
    fn misc_dynamic_weights_follow_keepalived_sum() {
        let now = Instant::now();
        let mut s = server(2, false);
        let w = |w| Outcome::Up {
            weight: Some(WeightSet::To(w)),
        };
        // One dynamic check: its weight replaces the configured one.
        assert_eq!(s.record(0, now, w(3)).weight, Some((10, 3)));
        assert_eq!(s.weight(), 3);
        // The same code again: no change.
        assert_eq!(s.record(0, now, w(3)).weight, None);
        // Two: configured + both differences (10 + (3-10) + (12-10) = 5).
        assert_eq!(s.record(1, now, w(12)).weight, Some((3, 5)));
        // Exit 0 puts the configured weight back for that check.
        assert_eq!(s.record(0, now, UP).weight, Some((5, 12)));
        // A failure drops the check's weight too (and the server goes down).
        let u = s.record(1, now, DOWN);
        assert_eq!((u.became, u.weight), (Some(false), Some((12, 10))));
        // Never below zero.
        s.record(0, now, w(0));
        s.record(1, now, w(0));
        assert_eq!(s.weight(), 0);
    }

    /// Exhaustive: every sequence of up to 8 outcomes, for retry 0..=3, alpha or not, agrees
    /// with a direct model of keepalived's rule.
    #[test]
    fn every_short_sequence_matches_the_model() {
        for retry_n in 0..=3u32 {
            for alpha in [false, true] {
                for len in 0..=8u32 {
                    for bits in 0..(1u32 << len) {
                        let seq: Vec<bool> = (0..len).map(|i| bits & (1 << i) != 0).collect();
                        check_against_model(retry_n, alpha, &seq);
                    }
                }
            }
        }
    }

    fn check_against_model(retry_n: u32, alpha: bool, seq: &[bool]) {
        let mut c = retry(retry_n, alpha);
        let mut now = Instant::now();
        // Model: up starts !alpha; "streak" of failures while up; the first-ever failure
        // counts as retry_n + 1 failures.
        let mut up = !alpha;
        let mut streak = 0u32;
        let mut first = true;
        for &ok in seq {
            let r = c.record(now, if ok { UP } else { DOWN });
            let (want_up, want_delay) = if ok {
                streak = 0;
                (true, timing().delay_loop)
            } else if up {
                streak = if first { retry_n + 1 } else { streak + 1 };
                if streak > retry_n {
                    streak = 0;
                    (false, timing().delay_loop)
                } else {
                    (true, timing().delay_before_retry)
                }
            } else {
                (false, timing().delay_loop)
            };
            assert_eq!(
                (c.up(), r.next_due - now),
                (Some(want_up), want_delay),
                "retry {retry_n} alpha {alpha} seq {seq:?}"
            );
            assert_eq!(r.became.is_some(), want_up != up);
            up = want_up;
            first = false;
            now = r.next_due;
        }
    }
}
