//! The simulator stepped from outside rather than run whole: the director's tests drive node 0
//! as their own instance, on the simulator's clock, with every invariant still checked.

use std::time::{Duration, Instant};

use super::{Failure, Input, Instance, OperatorError, Sim, State, ns};

impl Sim {
    /// Step by step, as the director's tests drive it (node 0 their own instance): boot every
    /// node; then [`Sim::advance_to`], [`Sim::apply`], [`Sim::handover`]. The invariants are
    /// checked after every step, as in [`Sim::run`].
    pub fn start(&mut self) -> Result<(), Failure> {
        for n in 0..self.nodes.len() {
            self.boot(n);
            self.drain(n)?;
        }
        self.check()
    }

    /// Deliver everything due up to `t` after the start.
    pub fn advance_to(&mut self, t: Duration) -> Result<(), Failure> {
        self.process(ns(t), u64::MAX)?;
        self.now = self.now.max(ns(t));
        Ok(())
    }

    /// Apply `input` now.
    pub fn apply(&mut self, input: Input) -> Result<(), Failure> {
        self.sc.inputs.push((Duration::from_nanos(self.now), input));
        self.apply_input(self.sc.inputs.len() - 1)?;
        self.check()
    }

    /// An operator's hand-over on node `n` (the machine's refusal, or a broken invariant).
    pub fn handover(&mut self, n: usize) -> Result<Result<(), OperatorError>, Failure> {
        let Some(inst) = self.nodes[n].inst.as_ref() else {
            return Ok(Err(OperatorError::NotMaster(State::Init)));
        };
        if inst.state() != State::Master || inst.is_handing_over() {
            let now = self.instant();
            let refused = self.nodes[n].inst.as_mut().unwrap().handover(now);
            return Ok(refused);
        }
        self.last_input = self.now;
        self.inputs_applied += 1;
        self.log.push(format!(
            "{:>10.4}s INPUT hand-over n{n}",
            self.now as f64 / 1e9
        ));
        self.start_handover(n);
        self.drain(n)?;
        self.check().map(Ok)
    }

    /// Node `n`'s instance (none while crashed).
    pub fn instance(&self, n: usize) -> Option<&Instance> {
        self.nodes[n].inst.as_ref()
    }

    /// Whether node `n` holds the VIPs.
    pub fn holds(&self, n: usize) -> bool {
        self.nodes[n].holds
    }

    /// The virtual time now.
    pub fn now(&self) -> Instant {
        self.instant()
    }

    /// Node `n`'s events since the last call, as the runner logs them.
    pub fn take_events(&mut self, n: usize) -> Vec<String> {
        std::mem::take(&mut self.events[n])
    }
}
