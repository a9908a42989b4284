//! The health-check runner: ONE tokio task drives the [`Core`] scheduler. It sleeps until the
//! earliest due check, starts every due check as a future polled by the task itself (at most
//! `max_in_flight` at once; later ones wait in the heap), folds results in as they come, and
//! sends [`HealthEvent`]s on a bounded channel. There is no task or timer per target: tens of
//! thousands of targets cost one heap entry each between attempts.
//!
//! Events: every change (up, down, weight) is always delivered, in order — when the channel is
//! full they queue inside the runner. Plain results (no change) are sent when
//! [`RunnerConfig::every_result`] is set and the channel has room; otherwise they are dropped
//! and counted in [`RunnerStats::results_dropped`].
//!
//! The runner stops when every [`HealthHandle`] is dropped; running scripts are then killed.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::{mpsc, oneshot};

use super::core::{Core, Job};
use super::target::{CheckTarget, Compiled, TargetError};
use super::{CheckResult, HealthEvent, ServerState, TargetId};

/// How the runner behaves.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Checks running at once, at most.
    pub max_in_flight: usize,
    /// Before any target's first attempt (keepalived's BOOTSTRAP_DELAY: 1 s), plus the warmup.
    pub bootstrap_delay: Duration,
    /// Capacity of the event channel.
    pub event_capacity: usize,
    /// Send every result, not only changes.
    pub every_result: bool,
    /// Seed of the warmup spread; None: from the clock.
    pub seed: Option<u64>,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            max_in_flight: 1024,
            bootstrap_delay: Duration::from_secs(1),
            event_capacity: 8192,
            every_result: true,
            seed: None,
        }
    }
}

/// Counters of a running runner.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunnerStats {
    pub targets: usize,
    pub in_flight: usize,
    /// Heap entries, stale ones included.
    pub heap_len: usize,
    pub checks_run: u64,
    pub results_dropped: u64,
    /// How late checks started after their due time: the largest, and the sum (for a mean).
    pub max_lateness: Duration,
    pub total_lateness: Duration,
}

enum Command {
    Upsert(Box<Compiled>),
    Remove(TargetId),
    Sync(Vec<Compiled>),
    Stats(oneshot::Sender<RunnerStats>),
    State(TargetId, oneshot::Sender<Option<ServerState>>),
}

/// Adds, updates and removes targets of a running runner; cheap to clone.
#[derive(Clone)]
pub struct HealthHandle {
    tx: mpsc::UnboundedSender<Command>,
}

/// Start the runner on the current tokio runtime. Events come on the returned receiver.
pub fn spawn(config: RunnerConfig) -> (HealthHandle, mpsc::Receiver<HealthEvent>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let (etx, erx) = mpsc::channel(config.event_capacity.max(1));
    tokio::spawn(run(config, rx, etx));
    (HealthHandle { tx }, erx)
}

impl HealthHandle {
    /// Add a target or update it (same id): unchanged checks keep their state and schedule.
    pub fn upsert(&self, target: &CheckTarget) -> Result<(), TargetError> {
        let compiled = target.compile()?;
        self.upsert_compiled(compiled);
        Ok(())
    }

    pub fn upsert_compiled(&self, compiled: Compiled) {
        let _ = self.tx.send(Command::Upsert(Box::new(compiled)));
    }

    /// Stop checking a target (its running checks' results are ignored).
    pub fn remove(&self, id: &TargetId) {
        let _ = self.tx.send(Command::Remove(id.clone()));
    }

    /// Make the checked set exactly `compiled` (a reload; unchanged checks keep their state).
    pub fn sync_compiled(&self, compiled: Vec<Compiled>) {
        let _ = self.tx.send(Command::Sync(compiled));
    }

    /// Make the checked set exactly `targets` (a reload). Targets that do not compile are
    /// left out (so removed if they were checked) and returned as errors.
    pub fn sync(&self, targets: &[CheckTarget]) -> Result<(), Vec<TargetError>> {
        let mut good = Vec::with_capacity(targets.len());
        let mut bad = Vec::new();
        for t in targets {
            match t.compile() {
                Ok(c) => good.push(c),
                Err(e) => bad.push(e),
            }
        }
        let _ = self.tx.send(Command::Sync(good));
        if bad.is_empty() { Ok(()) } else { Err(bad) }
    }

    /// The runner's counters (None once it has stopped).
    pub async fn stats(&self) -> Option<RunnerStats> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Command::Stats(tx)).ok()?;
        rx.await.ok()
    }

    /// A target's state now (None: not checked, or the runner stopped).
    pub async fn state(&self, id: &TargetId) -> Option<ServerState> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Command::State(id.clone(), tx)).ok()?;
        rx.await.ok().flatten()
    }
}

type Running = Pin<Box<dyn Future<Output = (Job, CheckResult)> + Send>>;

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// The runner's loop; [`spawn`] runs it as a task.
async fn run(
    config: RunnerConfig,
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::Sender<HealthEvent>,
) {
    let seed = config.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x5eed, |d| d.as_nanos() as u64)
    });
    let mut core = Core::new(config.bootstrap_delay, seed);
    let max = config.max_in_flight.max(1);
    let mut running: FuturesUnordered<Running> = FuturesUnordered::new();
    let mut out = Outbox {
        pending: VecDeque::new(),
        events: events.clone(),
        every_result: config.every_result,
        dropped: 0,
    };
    let mut stats = RunnerStats::default();
    let sleep = tokio::time::sleep(Duration::from_secs(3600));
    tokio::pin!(sleep);
    let mut armed: Option<Instant> = None;
    // FILE checks are re-read as soon as their file changes, not only every delay_loop.
    let mut files = super::file::FileWatch::new();
    let watch = |files: &mut super::file::FileWatch, c: &Compiled| {
        for path in Core::watched_files(c) {
            if let Err(e) = files.add(path) {
                tracing::warn!("FILE check: cannot watch {}: {e}", path.display());
            }
        }
    };
    loop {
        let t = now();
        while running.len() < max {
            let Some(job) = core.pop_due(t) else { break };
            let late = t.saturating_duration_since(job.due);
            stats.max_lateness = stats.max_lateness.max(late);
            stats.total_lateness += late;
            stats.checks_run += 1;
            running.push(Box::pin(async move {
                let result = job.spec.probe.run().await;
                (job, result)
            }));
        }
        let wake = if running.len() < max {
            core.next_due()
        } else {
            None
        };
        if let Some(w) = wake
            && armed != Some(w)
        {
            sleep.as_mut().reset(tokio::time::Instant::from_std(w));
            armed = Some(w);
        }
        tokio::select! {
            biased;
            Some((job, result)) = running.next(), if !running.is_empty() => {
                if let Some(ev) = core.complete(now(), &job, result) {
                    out.push(ev);
                }
            }
            command = commands.recv() => {
                let Some(command) = command else { break };
                match command {
                    Command::Upsert(c) => {
                        watch(&mut files, &c);
                        if let Some(ev) = core.upsert(now(), *c) {
                            out.push(ev);
                        }
                    }
                    Command::Remove(id) => {
                        core.remove(&id);
                    }
                    Command::Sync(all) => {
                        for c in &all {
                            watch(&mut files, c);
                        }
                        for ev in core.sync(now(), all) {
                            out.push(ev);
                        }
                    }
                    Command::Stats(tx) => {
                        stats.targets = core.len();
                        stats.in_flight = running.len();
                        stats.heap_len = core.heap_len();
                        stats.results_dropped = out.dropped;
                        let _ = tx.send(stats.clone());
                    }
                    Command::State(id, tx) => {
                        let _ = tx.send(core.state(&id));
                    }
                }
            }
            permit = events.reserve(), if !out.pending.is_empty() => {
                match permit {
                    Ok(permit) => {
                        if let Some(ev) = out.pending.pop_front() {
                            permit.send(ev);
                        }
                    }
                    Err(_) => out.pending.clear(),
                }
            }
            path = files.changed() => {
                core.file_changed(now(), &path);
            }
            _ = &mut sleep, if wake.is_some() => {
                armed = None;
            }
        }
    }
}

/// Events on their way out.
struct Outbox {
    /// Changes waiting for room in the channel, in order.
    pending: VecDeque<HealthEvent>,
    events: mpsc::Sender<HealthEvent>,
    every_result: bool,
    dropped: u64,
}

impl Outbox {
    fn push(&mut self, ev: HealthEvent) {
        let change = !ev.changes.is_empty();
        if !change && !self.every_result {
            return;
        }
        if !self.pending.is_empty() {
            if change {
                self.pending.push_back(ev);
            } else {
                self.dropped += 1;
            }
            return;
        }
        match self.events.try_send(ev) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(ev)) => {
                if change {
                    self.pending.push_back(ev);
                } else {
                    self.dropped += 1;
                }
            }
            // Nobody listens: keep checking; the handle decides when to stop.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}
