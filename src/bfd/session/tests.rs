use super::*;

/// Two sessions on a fake wire with a fake clock, stepped 1 ms at a time; `cut_*` drops what
/// a side sends (a dead peer, a broken path one way).
struct Wire {
    now: Instant,
    a: Session,
    b: Session,
    cut_a: bool,
    cut_b: bool,
    /// Every packet sent: (ms since start, from a?, decoded).
    log: Vec<(u64, bool, Control)>,
    start: Instant,
}

impl Wire {
    fn new(pa: SessionParams, pb: SessionParams) -> Self {
        let now = Instant::now();
        Wire {
            now,
            a: Session::new(pa, 0xa, 1, now),
            b: Session::new(pb, 0xb, 2, now),
            cut_a: false,
            cut_b: false,
            log: Vec::new(),
            start: now,
        }
    }

    fn run(&mut self, ms: u64) {
        for _ in 0..ms {
            self.now += Duration::from_millis(1);
            let now = self.now;
            self.a.handle_timeout(now);
            self.b.handle_timeout(now);
            // Deliver until both are quiet (a Poll's Final goes out at once).
            loop {
                let mut any = false;
                while let Some(p) = self.a.poll_transmit(now) {
                    any = true;
                    self.note(true, &p);
                    if !self.cut_a {
                        let _ = self.b.handle_packet(now, &p);
                    }
                }
                while let Some(p) = self.b.poll_transmit(now) {
                    any = true;
                    self.note(false, &p);
                    if !self.cut_b {
                        let _ = self.a.handle_packet(now, &p);
                    }
                }
                if !any {
                    break;
                }
            }
        }
    }

    fn note(&mut self, from_a: bool, p: &[u8]) {
        let at = (self.now - self.start).as_millis() as u64;
        let key = if from_a { &self.a } else { &self.b }.params().auth.clone();
        self.log
            .push((at, from_a, Control::decode(p, key.as_ref()).unwrap()));
    }

    fn ms(&self) -> u64 {
        (self.now - self.start).as_millis() as u64
    }

    fn up_within(&mut self, ms: u64) -> u64 {
        for _ in 0..ms {
            self.run(1);
            if self.a.state() == State::Up && self.b.state() == State::Up {
                return self.ms();
            }
        }
        panic!(
            "not Up within {ms} ms: a {} b {}",
            self.a.state(),
            self.b.state()
        );
    }
}

fn fast(mult: u8) -> SessionParams {
    SessionParams {
        desired_min_tx: Duration::from_millis(10),
        required_min_rx: Duration::from_millis(10),
        detect_mult: mult,
        ..Default::default()
    }
}

fn events(s: &mut Session) -> Vec<(State, State, Diag)> {
    std::iter::from_fn(|| s.poll_event())
        .map(|e| (e.from, e.to, e.diag))
        .collect()
}

#[test]
fn two_sessions_come_up_then_poll_down_to_the_fast_rate() {
    let mut w = Wire::new(fast(3), fast(3));
    let up = w.up_within(3_000);
    assert!(up < 1_100, "Up after the first exchange, at {up} ms");
    assert_eq!(
        events(&mut w.a),
        vec![(State::Down, State::Up, Diag::None)],
        "a hears b's Init (b heard a's Down): Down -> Up"
    );
    assert_eq!(
        events(&mut w.b),
        vec![
            (State::Down, State::Init, Diag::None),
            (State::Init, State::Up, Diag::None)
        ]
    );
    w.run(100);
    assert_eq!(w.a.tx_interval(), Duration::from_millis(10));
    assert_eq!(w.b.detection_time(), Some(Duration::from_millis(30)));
    assert!(w.a.counters().polls_completed >= 1);
    // Packets before Up advertise 1 s; none carries P and F together.
    let first = &w.log[0].2;
    assert_eq!(first.desired_min_tx_us, 1_000_000);
    assert!(w.log.iter().all(|(_, _, c)| !(c.poll && c.final_)));
    // At the fast rate: 75-100 % of 10 ms between a's periodic packets.
    let a_times: Vec<u64> = w
        .log
        .iter()
        .filter(|(t, a, c)| *a && *t > up + 20 && !c.final_)
        .map(|(t, _, _)| *t)
        .collect();
    for gap in a_times.windows(2).map(|p| p[1] - p[0]) {
        assert!((7..=10).contains(&gap), "gap {gap} ms");
    }
}

#[test]
fn a_silent_peer_is_down_after_the_detection_time_with_the_reason() {
    let mut w = Wire::new(fast(3), fast(3));
    w.up_within(3_000);
    w.run(200);
    events(&mut w.a);
    events(&mut w.b);
    w.cut_b = true; // b dies: a hears nothing more
    let t0 = w.ms();
    while w.a.state() == State::Up {
        w.run(1);
        assert!(w.ms() - t0 < 100, "still Up");
    }
    let took = w.ms() - t0;
    assert!(took <= 30, "down after {took} ms (detection 30 ms)");
    assert!(
        took >= 20,
        "down after {took} ms, before the detection time could pass"
    );
    assert_eq!(
        events(&mut w.a),
        vec![(State::Up, State::Down, Diag::ControlDetectionTimeExpired)]
    );
    assert_eq!(w.a.remote_disc(), 0, "forgotten (RFC 5880 6.8.1)");
    assert_eq!(w.a.tx_interval(), SLOW_TX, "back to the slow rate");
    // b, still hearing a, is told: a's Down makes b go Down too.
    w.run(5);
    assert_eq!(
        events(&mut w.b),
        vec![(State::Up, State::Down, Diag::NeighborSignaledSessionDown)]
    );
    // The path heals: both come Up again.
    w.cut_b = false;
    w.up_within(3_000);
}

#[test]
fn admin_down_is_said_to_the_peer_and_is_no_detection_failure() {
    let mut w = Wire::new(fast(3), fast(3));
    w.up_within(3_000);
    w.run(50);
    events(&mut w.b);
    let now = w.now;
    w.a.admin_down(now);
    w.run(2);
    assert_eq!(
        events(&mut w.b),
        vec![(State::Up, State::Down, Diag::NeighborSignaledSessionDown)]
    );
    // An AdminDown session sends Required Min RX 0 and ignores what it hears.
    let last = w.log.iter().rev().find(|(_, a, _)| *a).unwrap();
    assert_eq!(last.2.state, State::AdminDown);
    assert_eq!(last.2.diag, Diag::AdministrativelyDown);
    w.run(3_000);
    assert_eq!(w.a.state(), State::AdminDown);
    assert_eq!(w.b.state(), State::Down);
}

#[test]
fn an_interval_change_polls_and_a_slower_tx_waits_for_the_final() {
    let mut w = Wire::new(fast(3), fast(3));
    w.up_within(3_000);
    w.run(100);
    let polls = w.b.counters().polls_answered;
    let mut slower = fast(3);
    slower.desired_min_tx = Duration::from_millis(50);
    slower.required_min_rx = Duration::from_millis(50);
    let now = w.now;
    w.cut_b = true; // hold b's Final back for a moment
    w.a.set_params(now, slower.clone());
    w.run(5);
    assert_eq!(
        w.a.tx_interval(),
        Duration::from_millis(10),
        "no change before the Final"
    );
    let p = w.log.iter().rev().find(|(_, a, _)| *a).unwrap();
    assert!(p.2.poll, "P set");
    assert_eq!(p.2.desired_min_tx_us, 50_000);
    w.cut_b = false;
    w.run(20);
    assert!(w.b.counters().polls_answered > polls);
    assert_eq!(w.a.tx_interval(), Duration::from_millis(50));
    // b now times its packets by a's Required Min RX, and detects a by a's new TX.
    assert_eq!(w.b.tx_interval(), Duration::from_millis(50));
    assert_eq!(w.b.detection_time(), Some(Duration::from_millis(150)));
    w.run(1_000);
    assert_eq!(
        (w.a.state(), w.b.state()),
        (State::Up, State::Up),
        "no flap"
    );
}

#[test]
fn a_passive_session_waits_for_the_peer() {
    let mut passive = fast(3);
    passive.passive = true;
    let mut w = Wire::new(passive.clone(), passive);
    w.run(5_000);
    assert!(w.log.is_empty(), "two passive sessions never speak");
    let mut w = Wire::new(fast(3), {
        let mut p = fast(3);
        p.passive = true;
        p
    });
    w.up_within(3_000);
}

#[test]
fn a_detect_multiplier_of_one_keeps_jitter_between_10_and_25_percent() {
    let mut s = Session::new(fast(1), 7, 9, Instant::now());
    for _ in 0..1_000 {
        let d = s.jittered(Duration::from_millis(100));
        assert!(
            d >= Duration::from_millis(75) && d <= Duration::from_millis(90),
            "{d:?}"
        );
    }
}

fn keyed(meticulous: bool, secret: &[u8]) -> SessionParams {
    SessionParams {
        auth: Some(AuthKey {
            meticulous,
            key_id: 3,
            secret: secret.to_vec(),
        }),
        ..fast(3)
    }
}

#[test]
fn sha1_sessions_need_the_same_key_and_drop_replays() {
    let mut w = Wire::new(keyed(true, b"k1"), keyed(true, b"k1"));
    w.up_within(3_000);
    w.run(100);
    let mut w2 = Wire::new(keyed(false, b"k1"), keyed(false, b"k2"));
    w2.run(5_000);
    assert_eq!(w2.a.state(), State::Down);
    assert_eq!(w2.a.counters().received, 0);
    // A replayed packet (meticulous: same sequence number) is dropped.
    let now = w.now;
    let p = w.a.poll_transmit(now + Duration::from_millis(50)).unwrap();
    assert!(w.b.handle_packet(now, &p).is_ok());
    assert!(w.b.handle_packet(now, &p).is_err());
}

#[test]
fn nothing_is_sent_while_the_peer_asks_for_no_packets() {
    let now = Instant::now();
    let mut s = Session::new(fast(3), 5, 1, now);
    assert!(s.poll_transmit(now).is_some());
    let mut peer = Control::decode(
        &Session::new(fast(3), 6, 2, now).poll_transmit(now).unwrap(),
        None,
    )
    .unwrap();
    peer.required_min_rx_us = 0;
    s.handle_packet(now, &peer.encode(None)).unwrap();
    for i in 0..3_000 {
        assert_eq!(s.poll_transmit(now + Duration::from_millis(i)), None);
    }
}

/// Lost packets before a Down are counted in it (what `takeover` trusts), the final silence
/// not.
#[test]
fn a_down_counts_the_gaps_of_the_second_before_it() {
    let mut w = Wire::new(fast(3), fast(3));
    w.up_within(3_000);
    w.run(2_000);
    events(&mut w.a);
    for _ in 0..2 {
        w.cut_b = true; // one or two of b's packets lost: a gap, no Down
        w.run(14);
        w.cut_b = false;
        w.run(200);
    }
    assert_eq!(w.a.state(), State::Up);
    w.cut_b = true;
    while w.a.state() == State::Up {
        w.run(1);
    }
    let down: Vec<Event> = std::iter::from_fn(|| w.a.poll_event()).collect();
    assert_eq!(down[0].recent_gaps, 2);
    assert!(down[0].up_for.unwrap() > Duration::from_millis(2_400));
    // Clean: no gap.
    let mut w = Wire::new(fast(3), fast(3));
    w.up_within(3_000);
    w.run(2_000);
    events(&mut w.a);
    w.cut_b = true;
    while w.a.state() == State::Up {
        w.run(1);
    }
    assert_eq!(w.a.poll_event().unwrap().recent_gaps, 0);
}
