use super::*;
use std::net::Ipv4Addr;

pub(super) fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 77, 0, last))
}
pub(super) fn vip() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 77, 0, 100))
}
pub(super) fn params(version: Version, priority: u8, last: u8) -> InstanceParams {
    InstanceParams::new("VI_1", version, 51, priority, ip(last), vec![vip()])
}
pub(super) fn advert(version: Version, priority: u8, interval_cs: u16) -> Advert {
    Advert {
        version,
        vrid: 51,
        priority,
        interval_cs,
        addrs: vec![vip()],
        auth: None,
    }
}
pub(super) fn actions(i: &mut Instance) -> Vec<Action> {
    std::iter::from_fn(|| i.poll_action()).collect()
}
pub(super) fn events(i: &mut Instance) -> Vec<EventKind> {
    std::iter::from_fn(|| i.poll_event())
        .map(|e| e.kind)
        .collect()
}
fn sent_priorities(a: &[Action]) -> Vec<u8> {
    a.iter()
        .filter_map(|a| match a {
            Action::SendAdvert(ad) => Some(ad.priority),
            _ => None,
        })
        .collect()
}
pub(super) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
/// A Backup at priority `prio` (v3, 1 s) that has heard a master at 200 from .9.
pub(super) fn backup(prio: u8, t0: Instant) -> Instance {
    let mut b = Instance::new(params(Version::V3, prio, 70), t0);
    b.handle_advert(t0, ip(9), &advert(Version::V3, 200, 100));
    actions(&mut b);
    events(&mut b);
    b
}
/// A Master at priority `prio` (v3, 1 s) with address .71.
pub(super) fn master(prio: u8, t0: Instant) -> Instance {
    let mut m = Instance::new(params(Version::V3, prio, 71), t0);
    let t = m.next_timeout().unwrap();
    m.handle_timeout(t);
    assert_eq!(m.state(), State::Master);
    actions(&mut m);
    events(&mut m);
    m
}

#[test]
fn rfc9568_6_1_skew_time_and_master_down_interval_v3() {
    let i = Instance::new(params(Version::V3, 100, 70), Instant::now());
    // ((256 - 100) * 100 cs) / 256 = 60.9375 cs
    assert_eq!(i.skew_time(), Duration::from_micros(609_375));
    assert_eq!(i.master_down_interval(), Duration::from_micros(3_609_375));
}

#[test]
fn rfc3768_6_1_skew_time_is_in_seconds_whatever_the_interval_v2() {
    let mut p = params(Version::V2, 100, 70);
    p.advert_interval = Duration::from_secs(2);
    let i = Instance::new(p, Instant::now());
    assert_eq!(i.skew_time(), Duration::from_micros(609_375));
    assert_eq!(i.master_down_interval(), Duration::from_micros(6_609_375));
}

#[test]
fn rfc9568_6_4_1_owner_goes_straight_to_master() {
    let t0 = Instant::now();
    let mut i = Instance::new(params(Version::V3, 255, 71), t0);
    assert_eq!(i.state(), State::Master);
    let a = actions(&mut i);
    assert_eq!(a[0], Action::AddVips);
    assert_eq!(sent_priorities(&a), vec![255]);
    assert!(a.contains(&Action::SendGratuitous { count: 5 }));
    assert_eq!(i.next_timeout(), Some(t0 + Duration::from_secs(1)));
    assert_eq!(
        events(&mut i),
        vec![EventKind::Transition {
            from: State::Init,
            to: State::Master,
            reason: Reason::AddressOwner
        }]
    );
    assert_eq!(i.counters().became_master, 1);
}

#[test]
fn rfc9568_6_4_1_non_owner_starts_backup_with_master_down_timer() {
    let t0 = Instant::now();
    let mut i = Instance::new(params(Version::V3, 100, 70), t0);
    assert_eq!(i.state(), State::Backup);
    // Stale VIPs from a killed process are cleared before Backup.
    assert_eq!(actions(&mut i), vec![Action::RemoveVips]);
    assert_eq!(i.next_timeout(), Some(t0 + i.master_down_interval()));
}

#[test]
fn keepalived_state_master_hint_shortens_first_down_timer_only() {
    let t0 = Instant::now();
    let mut p = params(Version::V3, 100, 70);
    p.initial_state = InitialState::Master;
    let i = Instance::new(p, t0);
    assert_eq!(i.state(), State::Backup);
    assert_eq!(
        i.next_timeout(),
        Some(t0 + Duration::from_secs(1) + i.skew_time())
    );
}

#[test]
fn rfc9568_6_4_2_master_down_timer_fires_to_master() {
    let t0 = Instant::now();
    let mut i = Instance::new(params(Version::V3, 100, 70), t0);
    actions(&mut i);
    events(&mut i);
    let t = i.next_timeout().unwrap();
    i.handle_timeout(t - ms(1));
    assert_eq!(i.state(), State::Backup);
    i.handle_timeout(t);
    assert_eq!(i.state(), State::Master);
    let a = actions(&mut i);
    assert_eq!(a[0], Action::AddVips);
    assert_eq!(sent_priorities(&a), vec![100]);
    assert_eq!(i.next_timeout(), Some(t + Duration::from_secs(1)));
    assert_eq!(
        events(&mut i),
        vec![EventKind::Transition {
            from: State::Backup,
            to: State::Master,
            reason: Reason::MasterDownTimer
        }]
    );
}

#[test]
fn rfc9568_6_4_2_backup_priority_zero_sets_skew_time() {
    let t0 = Instant::now();
    let mut b = backup(100, t0);
    let t1 = t0 + ms(500);
    b.handle_advert(t1, ip(9), &advert(Version::V3, 0, 100));
    assert_eq!(b.next_timeout(), Some(t1 + b.skew_time()));
    assert_eq!(b.counters().priority_zero_in, 1);
    b.handle_timeout(t1 + b.skew_time());
    assert_eq!(b.state(), State::Master);
    assert!(events(&mut b).contains(&EventKind::Transition {
        from: State::Backup,
        to: State::Master,
        reason: Reason::PriorityZeroHeard
    }));
}

#[test]
fn rfc9568_6_4_2_backup_learns_master_adver_interval() {
    let t0 = Instant::now();
    let mut b = backup(100, t0);
    b.handle_advert(t0, ip(9), &advert(Version::V3, 200, 50));
    assert_eq!(b.master_adver_interval(), ms(500));
    // 3 * 0.5 s + (156 * 0.5 s) / 256
    assert_eq!(
        b.master_down_interval(),
        Duration::from_nanos(1_804_687_500)
    );
    assert_eq!(b.next_timeout(), Some(t0 + b.master_down_interval()));
    assert_eq!(b.master_heard().unwrap().addr, ip(9));
}

#[test]
fn rfc3768_6_4_2_backup_keeps_its_own_interval_and_drops_a_mismatch() {
    let t0 = Instant::now();
    let mut b = Instance::new(params(Version::V2, 100, 70), t0);
    let t1 = t0 + ms(100);
    b.handle_advert(t1, ip(9), &advert(Version::V2, 200, 200));
    assert_eq!(b.counters().dropped.interval_mismatch, 1);
    assert_eq!(b.next_timeout(), Some(t0 + b.master_down_interval()));
    b.handle_advert(t1, ip(9), &advert(Version::V2, 200, 100));
    assert_eq!(b.next_timeout(), Some(t1 + b.master_down_interval()));
    assert_eq!(b.master_adver_interval(), Duration::from_secs(1));
}

#[test]
fn rfc9568_6_4_2_preempt_discards_lower_priority_and_takes_over() {
    let t0 = Instant::now();
    let mut b = backup(150, t0);
    let deadline = b.next_timeout().unwrap();
    b.handle_advert(t0 + ms(900), ip(9), &advert(Version::V3, 100, 100));
    assert_eq!(b.next_timeout(), Some(deadline), "timer not reset");
    assert_eq!(b.counters().lower_priority_discarded, 1);
    b.handle_timeout(deadline);
    assert_eq!(b.state(), State::Master);
    assert!(events(&mut b).contains(&EventKind::Transition {
        from: State::Backup,
        to: State::Master,
        reason: Reason::Preempt
    }));
}

#[test]
fn rfc9568_6_4_2_nopreempt_accepts_lower_priority() {
    let t0 = Instant::now();
    let mut p = params(Version::V3, 150, 70);
    p.preempt = false;
    let mut b = Instance::new(p, t0);
    let t1 = t0 + ms(900);
    b.handle_advert(t1, ip(9), &advert(Version::V3, 100, 100));
    assert_eq!(b.next_timeout(), Some(t1 + b.master_down_interval()));
    assert!(!b.preempts());
}

#[test]
fn rfc9568_6_4_2_backup_accepts_equal_priority_without_address_tie_break() {
    let t0 = Instant::now();
    let mut b = backup(100, t0);
    let t1 = t0 + ms(900);
    // .9 is a lower address than our .70: still accepted in Backup.
    b.handle_advert(t1, ip(9), &advert(Version::V3, 100, 100));
    assert_eq!(b.next_timeout(), Some(t1 + b.master_down_interval()));
}

#[test]
fn rfc9568_6_4_2_owner_always_preempts_even_with_nopreempt() {
    let mut p = params(Version::V3, 255, 70);
    p.preempt = false;
    let i = Instance::new(p, Instant::now());
    assert!(i.preempts());
}

#[test]
fn keepalived_preempt_delay_accepts_lower_priority_for_the_delay() {
    let t0 = Instant::now();
    let mut p = params(Version::V3, 150, 70);
    p.preempt_delay = Duration::from_secs(2);
    let mut b = Instance::new(p, t0);
    let mut t = t0;
    for _ in 0..3 {
        t += Duration::from_secs(1);
        b.handle_advert(t, ip(9), &advert(Version::V3, 100, 100));
    }
    // First lower advert at t0+1 s starts the window; at t0+3 s it has elapsed.
    assert_eq!(b.counters().lower_priority_discarded, 1);
    let fire = t - Duration::from_secs(1) + b.master_down_interval();
    assert_eq!(b.next_timeout(), Some(fire));
    // A higher advert ends the window.
    b.handle_advert(t, ip(9), &advert(Version::V3, 200, 100));
    b.handle_advert(t + ms(10), ip(9), &advert(Version::V3, 100, 100));
    assert_eq!(b.counters().lower_priority_discarded, 1);
}

#[test]
fn rfc9568_6_4_2_shutdown_in_backup_cancels_timer_to_init() {
    let t0 = Instant::now();
    let mut b = backup(100, t0);
    b.shutdown(t0);
    assert_eq!(b.state(), State::Init);
    assert_eq!(b.next_timeout(), None);
    assert!(actions(&mut b).is_empty());
    // Init ignores adverts.
    b.handle_advert(t0, ip(9), &advert(Version::V3, 0, 100));
    assert_eq!(b.next_timeout(), None);
    b.startup(t0).unwrap();
    assert_eq!(b.state(), State::Backup);
}

#[test]
fn rfc9568_6_4_3_adver_timer_sends_advert_and_rearms() {
    let t0 = Instant::now();
    let mut m = master(100, t0);
    let t = m.next_timeout().unwrap();
    m.handle_timeout(t);
    assert_eq!(sent_priorities(&actions(&mut m)), vec![100]);
    assert_eq!(m.next_timeout(), Some(t + Duration::from_secs(1)));
}

#[test]
fn rfc9568_6_4_3_master_priority_zero_sends_advert_at_once() {
    let t0 = Instant::now();
    let mut m = master(100, t0);
    let t1 = t0 + Duration::from_secs(5);
    m.handle_advert(t1, ip(9), &advert(Version::V3, 0, 100));
    assert_eq!(sent_priorities(&actions(&mut m)), vec![100]);
    assert_eq!(m.state(), State::Master);
    assert_eq!(m.next_timeout(), Some(t1 + Duration::from_secs(1)));
}

#[test]
fn rfc9568_6_4_3_higher_priority_steps_master_down() {
    let t0 = Instant::now();
    let mut m = master(100, t0);
    let t1 = t0 + Duration::from_secs(5);
    m.handle_advert(t1, ip(9), &advert(Version::V3, 101, 50));
    assert_eq!(m.state(), State::Backup);
    assert_eq!(actions(&mut m), vec![Action::RemoveVips]);
    assert_eq!(m.master_adver_interval(), ms(500));
    assert_eq!(m.next_timeout(), Some(t1 + m.master_down_interval()));
    assert_eq!(
        events(&mut m),
        vec![EventKind::Transition {
            from: State::Master,
            to: State::Backup,
            reason: Reason::HigherPriorityHeard {
                src: ip(9),
                priority: 101
            }
        }]
    );
}

#[test]
fn rfc9568_6_4_3_equal_priority_higher_address_wins() {
    let t0 = Instant::now();
    let mut m = master(100, t0);
    let t1 = t0 + Duration::from_secs(5);
    m.handle_advert(t1, ip(200), &advert(Version::V3, 100, 100));
    assert_eq!(m.state(), State::Backup);
    // Recorded as a split brain too (same priority).
    assert_eq!(m.counters().split_brain, 1);
}

#[test]
fn rfc9568_6_4_3_equal_priority_lower_address_is_discarded_and_answered() {
    let t0 = Instant::now();
    let mut m = master(100, t0);
    let t1 = t0 + Duration::from_secs(5);
    m.handle_advert(t1, ip(9), &advert(Version::V3, 100, 100));
    assert_eq!(m.state(), State::Master);
    let a = actions(&mut m);
    // Answered three times (one would often be lost where a lower master appears by loss).
    assert_eq!(sent_priorities(&a), vec![100; 3]);
    assert!(a.contains(&Action::SendGratuitous { count: 5 }));
}

#[test]
fn rfc9568_6_4_3_lower_priority_discarded_with_advert_and_split_brain_event() {
    let t0 = Instant::now();
    let mut m = master(100, t0);
    let t1 = t0 + Duration::from_secs(5);
    m.handle_advert(t1, ip(9), &advert(Version::V3, 50, 100));
    assert_eq!(m.state(), State::Master);
    assert_eq!(sent_priorities(&actions(&mut m)), vec![100; 3]);
    assert_eq!(
        events(&mut m),
        vec![EventKind::SplitBrain {
            ours: ip(71),
            theirs: ip(9),
            our_priority: 100,
            their_priority: 50
        }]
    );
    // Not repeated for the same peer within four intervals.
    m.handle_advert(t1 + ms(10), ip(9), &advert(Version::V3, 50, 100));
    assert!(events(&mut m).is_empty());
}

#[test]
fn split_brain_not_reported_during_the_takeover_race() {
    let t0 = Instant::now();
    let mut b = backup(100, t0);
    let t = b.next_timeout().unwrap();
    b.handle_timeout(t);
    events(&mut b);
    b.handle_advert(t + ms(5), ip(9), &advert(Version::V3, 50, 100));
    assert!(events(&mut b).is_empty());
}

#[test]
fn rfc9568_6_4_3_shutdown_sends_priority_zero_and_releases() {
    let t0 = Instant::now();
    let mut m = master(100, t0);
    m.shutdown(t0 + ms(10));
    let a = actions(&mut m);
    assert_eq!(sent_priorities(&a), vec![0]);
    assert_eq!(a.last(), Some(&Action::RemoveVips));
    assert_eq!(m.state(), State::Init);
    assert_eq!(m.next_timeout(), None);
    assert_eq!(m.counters().priority_zero_out, 1);
}

#[test]
fn rfc9568_7_1_zero_interval_is_discarded() {
    let t0 = Instant::now();
    let mut b = backup(100, t0);
    let before = b.next_timeout();
    b.handle_advert(t0 + ms(10), ip(9), &advert(Version::V3, 200, 0));
    assert_eq!(b.next_timeout(), before);
    assert_eq!(b.counters().dropped.invalid_interval, 1);
}

#[test]
fn rfc3768_auth_pass_mismatch_is_dropped() {
    let t0 = Instant::now();
    let mut p = params(Version::V2, 100, 70);
    p.auth = Some(*b"s3cr3t\0\0");
    let mut b = Instance::new(p, t0);
    let before = b.next_timeout();
    let mut a = advert(Version::V2, 200, 100);
    b.handle_advert(t0 + ms(10), ip(9), &a);
    a.auth = Some(*b"wrong\0\0\0");
    b.handle_advert(t0 + ms(10), ip(9), &a);
    assert_eq!(b.counters().dropped.auth_mismatch, 2);
    assert_eq!(b.next_timeout(), before);
    a.auth = Some(*b"s3cr3t\0\0");
    b.handle_advert(t0 + ms(10), ip(9), &a);
    assert_ne!(b.next_timeout(), before);
}

#[test]
fn address_list_mismatch_is_counted_not_dropped() {
    let t0 = Instant::now();
    let mut b = backup(100, t0);
    let mut a = advert(Version::V3, 200, 100);
    a.addrs = vec![ip(101)];
    let t1 = t0 + ms(10);
    b.handle_advert(t1, ip(9), &a);
    assert_eq!(b.counters().address_list_mismatch, 1);
    assert_eq!(b.next_timeout(), Some(t1 + b.master_down_interval()));
}

#[test]
fn skip_check_adv_addr_does_not_compare_address_lists() {
    let t0 = Instant::now();
    let mut p = params(Version::V3, 100, 70);
    p.check_adv_addrs = false;
    let mut b = Instance::new(p, t0);
    let mut a = advert(Version::V3, 200, 100);
    a.addrs = vec![ip(101)];
    let t1 = t0 + ms(10);
    b.handle_advert(t1, ip(9), &a);
    assert_eq!(b.counters().address_list_mismatch, 0);
    assert_eq!(b.counters().adverts_in, 1);
}

#[test]
fn own_version_and_vrid_mismatches_are_dropped() {
    let t0 = Instant::now();
    let mut b = backup(100, t0);
    b.handle_advert(t0, ip(70), &advert(Version::V3, 200, 100));
    b.handle_advert(t0, ip(9), &advert(Version::V2, 200, 100));
    let mut a = advert(Version::V3, 200, 100);
    a.vrid = 52;
    b.handle_advert(t0, ip(9), &a);
    let d = b.counters().dropped;
    assert_eq!(
        (d.own_advert, d.version_mismatch, d.vrid_mismatch),
        (1, 1, 1)
    );
    assert_eq!(b.counters().adverts_in, 4);
}

#[test]
fn keepalived_tracker_weights_clamp_to_1_254() {
    let t0 = Instant::now();
    let mut i = Instance::new(params(Version::V3, 100, 70), t0);
    i.set_tracker(t0, "up_plus", 100, true);
    i.set_tracker(t0, "up_plus2", 100, true);
    assert_eq!(i.effective_priority(), 254);
    i.set_tracker(t0, "up_plus", 100, false); // positive weight counts only while up
    assert_eq!(i.effective_priority(), 200);
    i.set_tracker(t0, "down_minus", -250, false);
    assert_eq!(i.effective_priority(), 1);
    i.set_tracker(t0, "down_minus", -250, true); // negative weight counts only while down
    assert_eq!(i.effective_priority(), 200);
    let ev = events(&mut i);
    assert!(ev.contains(&EventKind::PriorityChanged { from: 200, to: 254 }));
    assert!(ev.contains(&EventKind::PriorityChanged { from: 200, to: 1 }));
}

#[test]
fn keepalived_owner_priority_is_not_changed_by_weights() {
    let t0 = Instant::now();
    let mut i = Instance::new(params(Version::V3, 255, 71), t0);
    i.set_tracker(t0, "s", -50, false);
    assert_eq!(i.effective_priority(), 255);
    assert_eq!(i.state(), State::Master);
}

#[test]
fn keepalived_weight_zero_tracker_down_is_fault_and_up_recovers() {
    let t0 = Instant::now();
    let mut m = master(100, t0);
    let t1 = t0 + ms(100);
    m.set_tracker(t1, "eth1", 0, false);
    assert_eq!(m.state(), State::Fault);
    let a = actions(&mut m);
    assert_eq!(sent_priorities(&a), vec![0]);
    assert_eq!(a.last(), Some(&Action::RemoveVips));
    assert_eq!(m.next_timeout(), None);
    // Adverts are ignored in Fault.
    m.handle_advert(t1, ip(9), &advert(Version::V3, 0, 100));
    assert!(actions(&mut m).is_empty());
    m.set_tracker(t1, "eth2", 0, false);
    m.set_tracker(t1, "eth1", 0, true);
    assert_eq!(m.state(), State::Fault, "eth2 still down");
    let t2 = t1 + ms(100);
    m.set_tracker(t2, "eth2", 0, true);
    assert_eq!(m.state(), State::Backup);
    assert_eq!(m.next_timeout(), Some(t2 + m.master_down_interval()));
    let ev = events(&mut m);
    assert_eq!(
        ev[0],
        EventKind::Transition {
            from: State::Master,
            to: State::Fault,
            reason: Reason::TrackerFault("eth1".into())
        }
    );
    assert_eq!(
        ev.last().unwrap(),
        &EventKind::Transition {
            from: State::Fault,
            to: State::Backup,
            reason: Reason::TrackersRecovered
        }
    );
}

#[test]
fn operator_priority_override_replaces_base_priority() {
    let t0 = Instant::now();
    let mut i = Instance::new(params(Version::V3, 100, 70), t0);
    i.set_tracker(t0, "s", 10, true);
    i.set_priority_override(t0, Some(50)).unwrap();
    assert_eq!(i.effective_priority(), 60);
    assert_eq!(
        i.set_priority_override(t0, Some(255)),
        Err(OperatorError::InvalidPriority)
    );
    i.set_priority_override(t0, None).unwrap();
    assert_eq!(i.effective_priority(), 110);
}

#[test]
fn garp_sets_after_master_delay_and_refresh() {
    let t0 = Instant::now();
    let mut p = params(Version::V3, 255, 71);
    p.garp.master_delay = Duration::from_secs(2);
    p.garp.master_repeat = 3;
    p.garp.master_refresh = Some(Duration::from_secs(10));
    p.garp.master_refresh_repeat = 2;
    let mut m = Instance::new(p, t0);
    assert!(actions(&mut m).contains(&Action::SendGratuitous { count: 3 }));
    let mut garps = vec![];
    let mut t = t0;
    while t < t0 + Duration::from_secs(21) {
        t = m.next_timeout().unwrap();
        m.handle_timeout(t);
        for a in actions(&mut m) {
            if let Action::SendGratuitous { count } = a {
                garps.push(((t - t0).as_secs(), count));
            }
        }
    }
    assert_eq!(garps, vec![(2, 3), (10, 2), (20, 2)]);
}

#[test]
fn handover_keeps_vips_until_new_master_heard() {
    let t0 = Instant::now();
    let mut m = master(200, t0);
    let t1 = t0 + Duration::from_secs(3);
    m.handover(t1).unwrap();
    assert_eq!(sent_priorities(&actions(&mut m)), vec![0]);
    assert_eq!(m.handover(t1), Err(OperatorError::AlreadyHandingOver));
    // The remaining two priority-0 adverts, 20 ms apart; no normal advert.
    let mut sent = vec![];
    for _ in 0..2 {
        let t = m.next_timeout().unwrap();
        m.handle_timeout(t);
        sent.extend(sent_priorities(&actions(&mut m)));
    }
    assert_eq!(sent, vec![0, 0]);
    assert_eq!(m.state(), State::Master);
    // A lower-priority backup takes over: we do not push it back, we release.
    let t2 = t1 + ms(700);
    m.handle_advert(t2, ip(9), &advert(Version::V3, 100, 100));
    assert_eq!(m.state(), State::Backup);
    assert_eq!(actions(&mut m), vec![Action::RemoveVips]);
    assert!(m.handover_inhibited());
    let ev = events(&mut m);
    assert!(ev.contains(&EventKind::HandoverStarted));
    assert!(ev.contains(&EventKind::Transition {
        from: State::Master,
        to: State::Backup,
        reason: Reason::OperatorHandover { new_master: ip(9) }
    }));
    assert_eq!(m.counters().split_brain, 0);
    let c = m.counters();
    assert_eq!((c.became_master, c.released_master, c.handovers), (1, 1, 1));
}

#[test]
fn handover_with_a_grace_period_keeps_the_vips_for_it() {
    let t0 = Instant::now();
    let mut p = params(Version::V3, 200, 71);
    p.handover.keep_vips = Duration::from_secs(2);
    let mut m = Instance::new(p, t0);
    let t = m.next_timeout().unwrap();
    m.handle_timeout(t);
    actions(&mut m);
    let t1 = t0 + Duration::from_secs(3);
    m.handover(t1).unwrap();
    actions(&mut m);
    m.handle_advert(t1 + ms(700), ip(9), &advert(Version::V3, 100, 100));
    assert_eq!(m.state(), State::Backup);
    assert_eq!(
        actions(&mut m),
        vec![Action::KeepVipsFor(Duration::from_secs(2))]
    );
    // Any other way out of Master still releases at once.
    let mut m = master(200, t0);
    m.shutdown(t1);
    assert_eq!(actions(&mut m).last(), Some(&Action::RemoveVips));
}

#[test]
fn handover_inhibit_keeps_old_master_backup_until_cleared_or_new_master_gone() {
    let t0 = Instant::now();
    let mut m = master(200, t0);
    m.handover(t0).unwrap();
    let mut t = t0 + ms(700);
    m.handle_advert(t, ip(9), &advert(Version::V3, 100, 100));
    assert!(!m.preempts());
    for _ in 0..10 {
        t += Duration::from_secs(1);
        m.handle_advert(t, ip(9), &advert(Version::V3, 100, 100));
        m.handle_timeout(t);
    }
    assert_eq!(m.state(), State::Backup, "no preempt back");
    assert_eq!(m.counters().lower_priority_discarded, 0);
    // The new master disappears: we take over again and the inhibit ends.
    let fire = m.next_timeout().unwrap();
    m.handle_timeout(fire);
    assert_eq!(m.state(), State::Master);
    assert!(!m.handover_inhibited());
    // Or the operator clears it.
    let mut m = master(200, t0);
    m.handover(t0).unwrap();
    m.handle_advert(t0 + ms(700), ip(9), &advert(Version::V3, 100, 100));
    m.clear_handover_inhibit(t0 + ms(800));
    assert!(m.preempts());
    // Cleared while the hand-over is still under way (found by the fault campaign: the
    // backup was slow to take over): it completes and leaves no inhibit.
    let mut m = master(200, t0);
    m.handover(t0).unwrap();
    m.clear_handover_inhibit(t0 + ms(100));
    m.handle_advert(t0 + ms(700), ip(9), &advert(Version::V3, 100, 100));
    assert_eq!(m.state(), State::Backup, "the hand-over completes");
    assert!(!m.handover_inhibited());
    assert!(m.preempts());
}

#[test]
fn handover_without_backup_resumes_and_reports() {
    let t0 = Instant::now();
    let mut m = master(200, t0);
    m.handover(t0).unwrap();
    actions(&mut m);
    let mut t = t0;
    while m.is_handing_over() {
        t = m.next_timeout().unwrap();
        m.handle_timeout(t);
    }
    assert_eq!(t, t0 + ms(4500));
    assert_eq!(m.state(), State::Master);
    assert_eq!(sent_priorities(&actions(&mut m)), vec![0, 0, 200]);
    assert!(events(&mut m).contains(&EventKind::HandoverNoTakeover));
    assert_eq!(m.next_timeout(), Some(t + Duration::from_secs(1)));
}

#[test]
fn handover_ignores_adverts_within_the_guard() {
    let t0 = Instant::now();
    let mut m = master(200, t0);
    m.handover(t0).unwrap();
    // A former master's advert still in flight.
    m.handle_advert(t0 + ms(5), ip(9), &advert(Version::V3, 150, 100));
    assert_eq!(m.state(), State::Master);
    m.handle_advert(t0 + ms(20), ip(9), &advert(Version::V3, 150, 100));
    assert_eq!(m.state(), State::Backup);
}

#[test]
fn handover_ignores_priority_zero_and_refuses_outside_master() {
    let t0 = Instant::now();
    let mut b = backup(100, t0);
    assert_eq!(b.handover(t0), Err(OperatorError::NotMaster(State::Backup)));
    let mut m = master(200, t0);
    m.handover(t0).unwrap();
    m.handle_advert(t0 + ms(5), ip(9), &advert(Version::V3, 0, 100));
    assert_eq!(m.state(), State::Master);
}

#[test]
fn params_validate() {
    let mut p = params(Version::V2, 100, 70);
    assert_eq!(p.validate(), Ok(()));
    p.advert_interval = ms(1500);
    assert!(matches!(p.validate(), Err(ParamError::Interval(_))));
    let mut p = params(Version::V3, 100, 70);
    p.advert_interval = ms(1500);
    assert_eq!(p.validate(), Ok(()));
    assert_eq!(p.wire_interval_cs(), 150);
    p.auth = Some([0; 8]);
    assert_eq!(p.validate(), Err(ParamError::AuthWithV3));
    let mut p = params(Version::V3, 0, 70);
    assert_eq!(p.validate(), Err(ParamError::Priority));
    p.priority = 1;
    p.vips.push("fd77::100".parse().unwrap());
    assert_eq!(p.validate(), Err(ParamError::MixedFamilies));
}

#[test]
fn events_display() {
    let e = EventKind::Transition {
        from: State::Backup,
        to: State::Master,
        reason: Reason::HigherPriorityHeard {
            src: ip(9),
            priority: 150,
        },
    };
    assert_eq!(
        e.to_string(),
        "BACKUP -> MASTER: heard higher priority 150 from 10.77.0.9"
    );
    assert_eq!(
        EventKind::HandoverNoTakeover.to_string(),
        "hand-over: no backup took over, resuming as master"
    );
}

/// Two machines, each with a sync group of two instances (VRID 1 and 2); adverts are
/// delivered at once between the instances of the same VRID.
struct Pair {
    nodes: [[Instance; 2]; 2],
    groups: [SyncGroup; 2],
}

impl Pair {
    fn new(t0: Instant) -> Pair {
        let mk = |node: usize, vrid: u8| {
            let mut p = params(
                Version::V3,
                if node == 0 { 200 } else { 100 },
                71 - node as u8,
            );
            p.vrid = vrid;
            p.name = format!("n{node}v{vrid}");
            Instance::new(p, t0)
        };
        let mut pair = Pair {
            nodes: [[mk(0, 1), mk(0, 2)], [mk(1, 1), mk(1, 2)]],
            groups: [SyncGroup::new("g0"), SyncGroup::new("g1")],
        };
        pair.settle(t0);
        pair
    }
    fn settle(&mut self, now: Instant) {
        for _ in 0..10 {
            for n in 0..2 {
                let [a, b] = &mut self.nodes[n];
                self.groups[n].update(now, &mut [a, b]);
            }
            let mut any = false;
            for n in 0..2 {
                for v in 0..2 {
                    while let Some(a) = self.nodes[n][v].poll_action() {
                        if let Action::SendAdvert(ad) = a {
                            any = true;
                            let src = self.nodes[n][v].params().primary_addr;
                            self.nodes[1 - n][v].handle_advert(now, src, &ad);
                        }
                    }
                }
            }
            if !any {
                return;
            }
        }
    }
    fn run_until(&mut self, end: Instant) {
        loop {
            let next = self
                .nodes
                .iter()
                .flatten()
                .filter_map(|i| i.next_timeout())
                .min();
            match next {
                Some(t) if t <= end => {
                    for i in self.nodes.iter_mut().flatten() {
                        i.handle_timeout(t);
                    }
                    self.settle(t);
                }
                _ => return,
            }
        }
    }
    fn states(&self, n: usize) -> [State; 2] {
        [self.nodes[n][0].state(), self.nodes[n][1].state()]
    }
}

#[test]
fn sync_group_members_become_master_together_and_fault_together() {
    let t0 = Instant::now();
    let mut p = Pair::new(t0);
    p.run_until(t0 + Duration::from_secs(10));
    assert_eq!(p.states(0), [State::Master; 2]);
    assert_eq!(p.states(1), [State::Backup; 2]);
    assert_eq!(p.groups[0].state(), GroupState::Master);
    // One member of node 0 faults: both go to Fault, node 1 takes both.
    let t1 = t0 + ms(10_500);
    p.nodes[0][1].set_tracker(t1, "eth1", 0, false);
    p.settle(t1);
    assert_eq!(p.states(0), [State::Fault; 2]);
    assert!(matches!(
        std::iter::from_fn(|| p.nodes[0][0].poll_event())
            .last()
            .unwrap()
            .kind,
        EventKind::Transition {
            to: State::Fault,
            reason: Reason::SyncGroupFault { .. },
            ..
        }
    ));
    p.run_until(t1 + Duration::from_secs(2));
    assert_eq!(p.states(1), [State::Master; 2]);
    // Recovery: node 0 preempts back, both members together.
    let t2 = t1 + Duration::from_secs(3);
    p.nodes[0][1].set_tracker(t2, "eth1", 0, true);
    p.settle(t2);
    assert_eq!(p.states(0), [State::Backup; 2]);
    p.run_until(t2 + Duration::from_secs(10));
    assert_eq!(p.states(0), [State::Master; 2]);
    assert_eq!(p.states(1), [State::Backup; 2]);
}

#[test]
fn sync_group_one_member_stepping_down_takes_the_other() {
    let t0 = Instant::now();
    let mut p = Pair::new(t0);
    p.run_until(t0 + Duration::from_secs(10));
    assert_eq!(p.states(0), [State::Master; 2]);
    // A higher-priority stranger on VRID 1 only.
    let t1 = t0 + ms(10_100);
    let mut a = advert(Version::V3, 250, 100);
    a.vrid = 1;
    p.nodes[0][0].handle_advert(t1, ip(250), &a);
    p.settle(t1);
    assert_eq!(p.states(0), [State::Backup; 2]);
}

#[test]
fn sync_group_member_waits_for_the_others_before_master() {
    let t0 = Instant::now();
    let mut p = Pair::new(t0);
    p.run_until(t0 + Duration::from_secs(10));
    // Node 1 alone: member 0 stops hearing node 0 (we feed only member 1).
    let n1 = &mut p.nodes[1];
    let mut t = t0 + Duration::from_secs(10);
    for _ in 0..10 {
        t += ms(500);
        let mut a = advert(Version::V3, 200, 100);
        a.vrid = 2;
        n1[1].handle_advert(t, ip(71), &a);
        for i in n1.iter_mut() {
            i.handle_timeout(t);
        }
        let [x, y] = n1;
        p.groups[1].update(t, &mut [x, y]);
    }
    assert!(p.nodes[1][0].wants_master());
    assert_eq!(p.states(1), [State::Backup; 2]);
}

#[test]
fn a_reload_applies_in_place_without_a_transition() {
    let t0 = Instant::now();
    let mut m = master(150, t0);
    let mut p = params(Version::V3, 140, 71);
    p.vips.push(IpAddr::V4(Ipv4Addr::new(10, 77, 0, 101)));
    p.advert_interval = ms(500);
    m.reconfigure(t0 + ms(100), p).unwrap();
    assert_eq!(m.state(), State::Master);
    let ev = events(&mut m);
    assert_eq!(ev, [EventKind::PriorityChanged { from: 150, to: 140 }]);
    // The new settings go out at once, not at the old advert's time.
    m.handle_timeout(t0 + ms(100));
    let sent: Vec<Advert> = actions(&mut m)
        .into_iter()
        .filter_map(|a| match a {
            Action::SendAdvert(ad) => Some(ad),
            _ => None,
        })
        .collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!((sent[0].priority, sent[0].interval_cs), (140, 50));
    assert_eq!(sent[0].addrs.len(), 2);
    assert_eq!(m.advert_interval(), ms(500));
    let mut other = params(Version::V3, 140, 71);
    other.vrid = 52;
    assert_eq!(
        m.reconfigure(t0 + ms(200), other),
        Err(ParamError::Identity)
    );
    // A backup whose priority rises stays backup until the master's next advert.
    let mut b = backup(100, t0);
    b.reconfigure(t0 + ms(10), params(Version::V3, 120, 70))
        .unwrap();
    assert_eq!(b.state(), State::Backup);
    assert_eq!(b.effective_priority(), 120);
}
