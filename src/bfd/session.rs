//! One BFD session (RFC 5880 asynchronous mode, RFC 5881 single hop) as a sans-IO machine:
//! [`Session::handle_packet`] and [`Session::handle_timeout`] in, [`Session::poll_transmit`]
//! and [`Session::poll_event`] out, time always a parameter. No demand mode and no echo
//! function (both optional in RFC 5880; no peer here asks for them: we send Required Min Echo
//! RX Interval 0, so a peer never echoes to us).
//!
//! Timing:
//! - while not Up, the advertised Desired Min TX is `idle_tx`, at least 1 s (§6.8.3);
//! - entering Up, and any change of the configured intervals, starts a Poll Sequence; until the
//!   peer's Final, an increased TX interval and a reduced RX interval are not used (§6.8.3);
//! - periodic packets go every max(our Desired Min TX, the peer's Required Min RX), less a
//!   random 0-25 % (0-10 %.. 25 % with a multiplier of 1) (§6.8.7);
//! - the detection time is the peer's multiplier × max(our Required Min RX, the peer's Desired
//!   Min TX) (§6.8.4), restarted by every accepted packet.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::packet::{AuthKey, Control, DecodeError, Diag, State};

/// RFC 5880 §6.8.3: the slowest a session may be while not Up.
pub const SLOW_TX: Duration = Duration::from_secs(1);
/// How far back a Down event counts the gaps before it.
pub const GAP_WINDOW: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionParams {
    pub desired_min_tx: Duration,
    pub required_min_rx: Duration,
    /// Desired Min TX while the session is not Up (raised to 1 s if below).
    pub idle_tx: Duration,
    pub detect_mult: u8,
    /// Send nothing until the peer has spoken (RFC 5880 §6.1, passive role).
    pub passive: bool,
    pub auth: Option<AuthKey>,
}

impl Default for SessionParams {
    fn default() -> Self {
        SessionParams {
            desired_min_tx: Duration::from_millis(10),
            required_min_rx: Duration::from_millis(10),
            idle_tx: SLOW_TX,
            detect_mult: 5,
            passive: false,
            auth: None,
        }
    }
}

/// What a session has to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub at: Instant,
    pub from: State,
    pub to: State,
    /// Our diagnostic when leaving Up (why), else the peer's.
    pub diag: Diag,
    /// Leaving Up: how long the session had been Up.
    pub up_for: Option<Duration>,
    /// Leaving Up: packets that came more than 1.5 of the peer's intervals after the one before
    /// (one lost on the way, or very late) within the last second.
    pub recent_gaps: u32,
}

/// Counters shown in the console and exported as metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    pub sent: u64,
    pub received: u64,
    /// Dropped by this session (authentication sequence, AdminDown, ...), by reason.
    pub dropped: u64,
    pub up_count: u64,
    pub down_count: u64,
    pub polls_answered: u64,
    pub polls_completed: u64,
}

#[derive(Debug)]
pub struct Session {
    params: SessionParams,
    state: State,
    diag: Diag,
    local_disc: u32,
    remote_disc: u32,
    remote_state: State,
    remote_min_rx_us: u32,
    remote_desired_tx_us: u32,
    remote_mult: u8,
    /// Desired Min TX we advertise (bfd.DesiredMinTxInterval).
    adv_tx: Duration,
    /// The interval our transmissions are timed by (lags `adv_tx` while a Poll runs).
    used_tx: Duration,
    /// The Required Min RX our detection time uses (lags a reduction while a Poll runs).
    detect_rx: Duration,
    /// A Poll Sequence is under way: P set on periodic packets until a Final.
    polling: bool,
    /// A packet with F must go out at once.
    final_due: bool,
    next_tx: Option<Instant>,
    detect_at: Option<Instant>,
    xmit_seq: u32,
    rcv_seq: Option<u32>,
    rng: u64,
    events: VecDeque<Event>,
    counters: Counters,
    last_down: Option<(Instant, Diag)>,
    up_since: Option<Instant>,
    /// When the last packet was taken, and when packets came later than 1.5 intervals after
    /// the one before (a packet lost on the way), the last few.
    last_rx: Option<Instant>,
    gaps: VecDeque<Instant>,
}

impl Session {
    /// A new session in Down; `local_disc` must be non-zero and unique on this system,
    /// `seed` varies the jitter between sessions.
    pub fn new(params: SessionParams, local_disc: u32, seed: u64, now: Instant) -> Self {
        assert_ne!(local_disc, 0, "a local discriminator is never 0");
        let idle = params.idle_tx.max(SLOW_TX);
        let detect_rx = params.required_min_rx;
        let mut s = Session {
            state: State::Down,
            diag: Diag::None,
            local_disc,
            remote_disc: 0,
            remote_state: State::Down,
            remote_min_rx_us: 1,
            remote_desired_tx_us: 0,
            remote_mult: 0,
            adv_tx: idle,
            used_tx: idle,
            detect_rx,
            polling: false,
            final_due: false,
            next_tx: None,
            detect_at: None,
            xmit_seq: seed as u32 | 1,
            rcv_seq: None,
            rng: seed ^ u64::from(local_disc).rotate_left(32) ^ 0x9e37_79b9_7f4a_7c15,
            events: VecDeque::new(),
            counters: Counters::default(),
            last_down: None,
            up_since: None,
            last_rx: None,
            gaps: VecDeque::new(),
            params,
        };
        if !s.params.passive {
            s.next_tx = Some(now);
        }
        s
    }

    pub fn state(&self) -> State {
        self.state
    }
    pub fn diag(&self) -> Diag {
        self.diag
    }
    pub fn local_disc(&self) -> u32 {
        self.local_disc
    }
    pub fn remote_disc(&self) -> u32 {
        self.remote_disc
    }
    pub fn remote_state(&self) -> State {
        self.remote_state
    }
    pub fn params(&self) -> &SessionParams {
        &self.params
    }
    pub fn counters(&self) -> &Counters {
        &self.counters
    }
    pub fn last_down(&self) -> Option<(Instant, Diag)> {
        self.last_down
    }
    pub fn up_since(&self) -> Option<Instant> {
        self.up_since
    }
    /// The interval packets go out at now (before jitter).
    pub fn tx_interval(&self) -> Duration {
        self.used_tx
            .max(Duration::from_micros(self.remote_min_rx_us.into()))
    }
    /// How long without a packet before the session goes Down (None before the peer spoke).
    pub fn detection_time(&self) -> Option<Duration> {
        (self.remote_mult > 0).then(|| {
            self.detect_rx
                .max(Duration::from_micros(self.remote_desired_tx_us.into()))
                * u32::from(self.remote_mult)
        })
    }
    /// The peer's advertised intervals: (Desired Min TX, Required Min RX, multiplier).
    pub fn remote_intervals(&self) -> (Duration, Duration, u8) {
        (
            Duration::from_micros(self.remote_desired_tx_us.into()),
            Duration::from_micros(self.remote_min_rx_us.into()),
            self.remote_mult,
        )
    }
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        // A Final due goes out from the `poll_transmit` that follows the packet that asked.
        [self.next_tx, self.detect_at].into_iter().flatten().min()
    }

    /// The detection timer.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.detect_at.is_some_and(|t| t <= now) {
            self.detect_at = None;
            // §6.8.1: bfd.RemoteDiscr goes back to 0 when the detection time passes.
            self.remote_disc = 0;
            self.remote_state = State::Down;
            self.rcv_seq = None;
            if matches!(self.state, State::Init | State::Up) {
                self.go(now, State::Down, Diag::ControlDetectionTimeExpired);
            }
        }
    }

    /// The next packet to send, if one is due at `now`.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Vec<u8>> {
        let periodic = self.next_tx.is_some_and(|t| t <= now);
        // §6.8.7: nothing while the peer asks for no packets, and a passive session
        // waits for the peer.
        let may_send =
            self.remote_min_rx_us != 0 && !(self.params.passive && self.remote_disc == 0);
        if !(periodic || self.final_due) || !may_send {
            if periodic {
                self.next_tx = None;
            }
            return None;
        }
        let final_ = std::mem::take(&mut self.final_due);
        let control = Control {
            diag: self.diag,
            state: self.state,
            // Never P and F together (§6.8.7).
            poll: self.polling && !final_,
            final_,
            control_plane_independent: false,
            demand: false,
            detect_mult: self.params.detect_mult,
            my_disc: self.local_disc,
            your_disc: self.remote_disc,
            desired_min_tx_us: micros(self.adv_tx),
            required_min_rx_us: if self.state == State::AdminDown {
                0
            } else {
                micros(self.params.required_min_rx)
            },
            required_min_echo_rx_us: 0,
            auth: None,
        };
        let auth = self.params.auth.as_ref().map(|k| {
            // Keyed: the sequence number may stay; Meticulous: it moves on every packet.
            // Moving it on every packet satisfies both (§6.7.4).
            self.xmit_seq = self.xmit_seq.wrapping_add(1);
            (k, self.xmit_seq)
        });
        let bytes = control.encode(auth);
        self.counters.sent += 1;
        if periodic || self.next_tx.is_none() {
            self.next_tx = Some(now + self.jittered(self.tx_interval()));
        }
        Some(bytes)
    }

    /// A packet for this session (the caller has matched Your Discriminator, or the
    /// addresses when it is 0). Returns why it was dropped, if it was.
    pub fn handle_packet(&mut self, now: Instant, bytes: &[u8]) -> Result<(), DecodeError> {
        let c = Control::decode(bytes, self.params.auth.as_ref())?;
        if let (Some(a), Some(k)) = (c.auth, &self.params.auth)
            && let Some(last) = self.rcv_seq
        {
            let window = 3 * u32::from(c.detect_mult.max(self.params.detect_mult));
            let ahead = a.seq.wrapping_sub(last);
            let ok = if k.meticulous {
                (1..=window).contains(&ahead)
            } else {
                ahead <= window
            };
            if !ok {
                self.counters.dropped += 1;
                return Err(DecodeError::AuthHash);
            }
        }
        if let Some(a) = c.auth {
            self.rcv_seq = Some(a.seq);
        }
        self.counters.received += 1;
        let first = self.remote_disc == 0;
        self.remote_disc = c.my_disc;
        self.remote_state = c.state;
        let min_rx_was = self.remote_min_rx_us;
        self.remote_min_rx_us = c.required_min_rx_us;
        self.remote_desired_tx_us = c.desired_min_tx_us;
        self.remote_mult = c.detect_mult;
        if c.final_ && self.polling {
            self.polling = false;
            self.counters.polls_completed += 1;
            self.used_tx = self.adv_tx;
            self.detect_rx = self.params.required_min_rx;
        }
        if self.state == State::AdminDown {
            return Ok(());
        }
        if let (Some(prev), Some(d)) = (self.last_rx, self.detection_time())
            && self.state == State::Up
            && (now - prev) * 2 * u32::from(self.remote_mult) > d * 3
        {
            if self.gaps.len() == 16 {
                self.gaps.pop_front();
            }
            self.gaps.push_back(now);
        }
        self.last_rx = Some(now);
        self.detect_at = self.detection_time().map(|d| now + d);
        // The peer now allows faster packets, or we had stopped: reschedule from now.
        if min_rx_was != self.remote_min_rx_us || self.next_tx.is_none() || first {
            let due = now + self.jittered(self.tx_interval());
            if self.next_tx.is_none_or(|t| t > due) {
                self.next_tx = Some(due);
            }
        }
        match (self.state, c.state) {
            (State::Init | State::Up, State::AdminDown) => {
                self.go(now, State::Down, Diag::NeighborSignaledSessionDown)
            }
            (State::Down, State::Down) => self.go(now, State::Init, Diag::None),
            (State::Down, State::Init) | (State::Init, State::Init | State::Up) => {
                self.go(now, State::Up, Diag::None)
            }
            (State::Up, State::Down) => {
                self.go(now, State::Down, Diag::NeighborSignaledSessionDown)
            }
            _ => {}
        }
        if c.poll {
            self.final_due = true;
            self.counters.polls_answered += 1;
        }
        Ok(())
    }

    /// New configured intervals (a reload): advertised at once with a Poll Sequence.
    pub fn set_params(&mut self, now: Instant, params: SessionParams) {
        let intervals_changed = params.desired_min_tx != self.params.desired_min_tx
            || params.required_min_rx != self.params.required_min_rx
            || params.detect_mult != self.params.detect_mult;
        self.params = params;
        if self.state == State::Up {
            if intervals_changed {
                self.start_poll(self.params.desired_min_tx);
                self.next_tx = Some(now);
            }
        } else {
            self.adv_tx = self.params.idle_tx.max(SLOW_TX);
            self.used_tx = self.adv_tx;
            self.detect_rx = self.params.required_min_rx;
        }
    }

    /// Stop the session as an operator (or a daemon stopping) does: AdminDown, said to the peer
    /// at once so it does not take this for a failure.
    pub fn admin_down(&mut self, now: Instant) {
        if self.state != State::AdminDown {
            self.go(now, State::AdminDown, Diag::AdministrativelyDown);
            self.detect_at = None;
            self.next_tx = Some(now);
        }
    }

    fn start_poll(&mut self, new_tx: Duration) {
        // An increase of TX waits for the Final; a decrease may be used at once.
        if new_tx < self.used_tx {
            self.used_tx = new_tx;
        }
        self.adv_tx = new_tx;
        // A reduced RX waits for the Final; an increase lengthens detection at once.
        if self.params.required_min_rx > self.detect_rx {
            self.detect_rx = self.params.required_min_rx;
        }
        self.polling = true;
    }

    fn go(&mut self, now: Instant, to: State, diag: Diag) {
        let from = self.state;
        let up_for = self.up_since.filter(|_| from == State::Up).map(|t| now - t);
        let recent_gaps = self.gaps.iter().filter(|&&t| now - t <= GAP_WINDOW).count() as u32;
        self.state = to;
        self.diag = diag;
        match to {
            State::Up => {
                self.counters.up_count += 1;
                self.up_since = Some(now);
                self.start_poll(self.params.desired_min_tx);
                // Tell the peer at once, with the Poll for the fast rate.
                self.next_tx = Some(now);
            }
            _ => {
                if from == State::Up {
                    self.counters.down_count += 1;
                    self.last_down = Some((now, diag));
                    self.up_since = None;
                }
                self.polling = false;
                self.adv_tx = self.params.idle_tx.max(SLOW_TX);
                self.used_tx = self.adv_tx;
                self.detect_rx = self.params.required_min_rx;
                if to == State::Down {
                    self.next_tx = Some(now);
                }
            }
        }
        let diag = if to == State::Up { Diag::None } else { diag };
        self.events.push_back(Event {
            at: now,
            from,
            to,
            diag,
            up_for,
            recent_gaps,
        });
    }

    /// The interval less a random 0-25 % (at most 90 % of it with a multiplier of 1).
    fn jittered(&mut self, d: Duration) -> Duration {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let low = if self.params.detect_mult == 1 { 10 } else { 0 };
        let cut = low + (z % (26 - low)); // percent taken off
        d * (100 - cut as u32) / 100
    }
}

fn micros(d: Duration) -> u32 {
    d.as_micros().min(u32::MAX as u128) as u32
}

#[cfg(test)]
mod tests;
