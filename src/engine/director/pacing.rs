//! When the director publishes its Snapshot. Building one is not free: a 2,000-service table
//! took 0.5-1.7 s in the debug build in the TCG guest, on the thread that also sends VRRP's
//! adverts and answers the control socket. Published after every wake-up, such a director was
//! busy with nothing else (its VIP guard took it for dead, a `status` waited 30 s). So changes
//! are coalesced and publishes spaced by their own cost, at most a quarter of the thread's
//! time; what an operator acts on or waits for (a command's result, a VRRP transition) is
//! published at once.

use std::time::{Duration, Instant};

/// The least time between two publishes of changes, however cheap they are.
const MIN_SPACING: Duration = Duration::from_millis(100);
/// Time left between two publishes, per unit of time one publish took.
const IDLE_PER_COST: u32 = 3;

pub(super) struct Pacer {
    dirty: bool,
    next_at: Instant,
}

impl Pacer {
    pub fn new(now: Instant) -> Pacer {
        Pacer {
            dirty: false,
            next_at: now,
        }
    }

    /// Something the Snapshot shows has changed.
    pub fn changed(&mut self) {
        self.dirty = true;
    }

    /// Whether to publish now: `urgent`, or changed and spaced enough from the last one.
    pub fn due(&self, now: Instant, urgent: bool) -> bool {
        urgent || (self.dirty && now >= self.next_at)
    }

    /// A publish started at `started` and took `cost`.
    pub fn published(&mut self, started: Instant, cost: Duration) {
        self.dirty = false;
        self.next_at = started + cost + (cost * IDLE_PER_COST).max(MIN_SPACING);
    }

    /// When a change not yet published falls due (the loop wakes up for it).
    pub fn wake_at(&self) -> Option<Instant> {
        self.dirty.then_some(self.next_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn cheap_publishes_follow_changes_at_most_ten_a_second() {
        let t0 = Instant::now();
        let mut p = Pacer::new(t0);
        assert!(!p.due(t0, false), "nothing changed");
        assert_eq!(p.wake_at(), None);
        p.changed();
        assert!(p.due(t0, false));
        p.published(t0, 2 * MS);
        p.changed();
        assert!(!p.due(t0 + 50 * MS, false));
        assert_eq!(p.wake_at(), Some(t0 + 102 * MS));
        assert!(p.due(t0 + 102 * MS, false));
    }

    #[test]
    fn a_costly_publish_leaves_three_times_its_cost_to_the_rest() {
        let t0 = Instant::now();
        let mut p = Pacer::new(t0);
        p.changed();
        p.published(t0, 800 * MS);
        p.changed();
        let next = t0 + 800 * MS + 2400 * MS;
        assert!(!p.due(next - MS, false));
        assert!(p.due(next, false));
        // Share of the time spent publishing when changes never stop: a quarter.
        assert_eq!((next - t0).as_millis() / 800, 4);
    }

    #[test]
    fn urgent_ones_go_at_once_and_restart_the_spacing() {
        let t0 = Instant::now();
        let mut p = Pacer::new(t0);
        p.changed();
        p.published(t0, 500 * MS);
        assert!(
            p.due(t0 + 600 * MS, true),
            "a transition or a command's result waits for no one"
        );
        p.published(t0 + 600 * MS, 500 * MS);
        assert_eq!(p.wake_at(), None, "that publish carried every change");
        p.changed();
        assert_eq!(p.wake_at(), Some(t0 + 2600 * MS));
    }
}
