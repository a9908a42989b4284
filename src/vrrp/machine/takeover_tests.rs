//! lvsdeck's BFD `takeover`: [`Instance::master_silent`].

use super::tests::{actions, advert, backup, events, ip, master, ms};
use super::*;

/// Up long enough to be trusted (more than the 3.6 s Master_Down_Interval).
const STABLE: Duration = Duration::from_secs(10);

#[test]
fn a_backup_takes_over_a_skew_after_its_masters_session_fell_silent() {
    let t0 = Instant::now();
    let mut b = backup(100, t0);
    let t = t0 + ms(300);
    assert!(b.master_silent(t, ip(9), (STABLE, 0), Duration::ZERO));
    // (256 - 100) x 200 us = 31.2 ms, far inside the 3.6 s Master_Down_Interval.
    assert_eq!(b.next_timeout(), Some(t + Duration::from_micros(31_200)));
    b.handle_timeout(t + Duration::from_micros(31_200));
    assert_eq!(b.state(), State::Master);
    let ev = events(&mut b);
    assert!(
        ev.iter().any(|e| matches!(
            e,
            EventKind::Transition {
                reason: Reason::MasterSilent { .. },
                ..
            }
        )),
        "{ev:?}"
    );
    assert!(actions(&mut b).contains(&Action::AddVips));
}

#[test]
fn a_session_to_anyone_but_the_master_changes_nothing() {
    let t0 = Instant::now();
    let mut b = backup(100, t0);
    let due = b.next_timeout();
    assert!(!b.master_silent(t0 + ms(10), ip(8), (STABLE, 0), Duration::ZERO));
    assert_eq!(b.next_timeout(), due);
    // Nor in Master, nor before any master was heard.
    let mut m = master(100, t0);
    assert!(!m.master_silent(t0, ip(9), (STABLE, 0), Duration::ZERO));
    let mut fresh = Instance::new(super::tests::params(Version::V3, 100, 70), t0);
    assert!(!fresh.master_silent(t0, ip(9), (STABLE, 0), Duration::ZERO));
}

/// A BFD flap while the master still advertises: its advert during the skew keeps the backup
/// a backup, and one after (the backup became master) sends it back at once.
#[test]
fn the_masters_advert_wins_over_a_bfd_flap() {
    let t0 = Instant::now();
    let mut b = backup(100, t0);
    assert!(b.master_silent(t0 + ms(100), ip(9), (STABLE, 0), Duration::ZERO));
    b.handle_advert(t0 + ms(110), ip(9), &advert(Version::V3, 200, 100));
    b.handle_timeout(t0 + ms(200));
    assert_eq!(b.state(), State::Backup);
    // Too late this time: the backup is master when the advert comes.
    assert!(b.master_silent(t0 + ms(500), ip(9), (STABLE, 0), Duration::ZERO));
    b.handle_timeout(t0 + ms(540));
    assert_eq!(b.state(), State::Master);
    b.handle_advert(t0 + ms(900), ip(9), &advert(Version::V3, 200, 100));
    assert_eq!(b.state(), State::Backup);
    assert!(actions(&mut b).contains(&Action::RemoveVips));
}

#[test]
fn of_two_backups_the_higher_priority_speaks_first() {
    let t0 = Instant::now();
    let mut hi = backup(150, t0);
    let mut lo = backup(100, t0);
    let t = t0 + ms(50);
    hi.master_silent(t, ip(9), (STABLE, 0), Duration::ZERO);
    lo.master_silent(t, ip(9), (STABLE, 0), Duration::ZERO);
    let (th, tl) = (hi.next_timeout().unwrap(), lo.next_timeout().unwrap());
    assert!(tl - th >= ms(9), "{:?} apart", tl - th);
    hi.handle_timeout(th);
    assert_eq!(hi.state(), State::Master);
    let sent = actions(&mut hi)
        .into_iter()
        .find_map(|a| match a {
            Action::SendAdvert(ad) => Some(ad),
            _ => None,
        })
        .unwrap();
    lo.handle_advert(th + ms(1), ip(71), &sent);
    lo.handle_timeout(tl);
    assert_eq!(
        lo.state(),
        State::Backup,
        "the lower one heard the new master in time"
    );
}

/// A session that flaps (Up for less than a Master_Down_Interval) or lost packets in its last
/// second is left to the advert timers; one Up long enough and clean acts.
#[test]
fn a_flapping_session_is_not_trusted() {
    let t0 = Instant::now();
    let mut b = backup(100, t0);
    let due = b.next_timeout();
    let z = Duration::ZERO;
    assert!(!b.master_silent(t0 + ms(10), ip(9), (ms(500), 0), z));
    assert!(!b.master_silent(t0 + ms(10), ip(9), (ms(3_600), 0), z));
    // Lossy: three late packets in its last second.
    assert!(!b.master_silent(t0 + ms(10), ip(9), (STABLE, LOSSY_GAPS), z));
    assert_eq!(b.next_timeout(), due);
    assert!(b.master_silent(t0 + ms(10), ip(9), (ms(3_610), LOSSY_GAPS - 1), z));
}

/// The master answers the Down our session sent within the detection time: no takeover.
#[test]
fn a_master_heard_again_within_the_confirmation_keeps_its_place() {
    let t0 = Instant::now();
    let mut b = backup(100, t0);
    let t = t0 + ms(300);
    assert!(b.master_silent(t, ip(9), (STABLE, 0), ms(30)));
    assert_eq!(
        b.next_timeout(),
        Some(t + ms(30) + Duration::from_micros(31_200))
    );
    assert!(!b.master_heard_again(t + ms(2), ip(8)), "another peer");
    assert!(b.master_heard_again(t + ms(2), ip(9)));
    b.handle_timeout(t + ms(100));
    assert_eq!(b.state(), State::Backup);
    // The Master_Down timer is the one its last advert (at t0) set, not a new one.
    assert_eq!(b.next_timeout(), Some(t0 + b.master_down_interval()));
    // Nothing pending: nothing to cancel.
    assert!(!b.master_heard_again(t + ms(3), ip(9)));
}

/// A backup of higher priority that is waiting to preempt a lower master (its adverts are
/// discarded, the timer the last accepted one set runs on) still preempts on time when a BFD
/// takeover is called off. Starting the timer over delayed a restarted director's preemption
/// by a Master_Down_Interval in the BFD fault campaign.
#[test]
fn a_takeover_called_off_keeps_a_pending_preemption_on_time() {
    let t0 = Instant::now();
    let mut b = backup(100, t0);
    let due = t0 + b.master_down_interval();
    // The master now advertises below us: discarded, we preempt at `due`.
    b.handle_advert(t0 + ms(1_000), ip(9), &advert(Version::V3, 50, 100));
    assert_eq!(b.next_timeout(), Some(due));
    let t = t0 + ms(1_500);
    assert!(b.master_silent(t, ip(9), (STABLE, 0), ms(30)));
    assert!(b.master_heard_again(t + ms(10), ip(9)));
    assert_eq!(b.next_timeout(), Some(due));
    b.handle_timeout(due);
    assert_eq!(b.state(), State::Master);
    let ev = events(&mut b);
    assert!(
        ev.iter().any(|e| matches!(
            e,
            EventKind::Transition {
                reason: Reason::Preempt,
                ..
            }
        )),
        "{ev:?}"
    );
}

/// A busy loop that handles the master's answer after the adverts' own timer ran out: the
/// backup takes over at once, as the adverts alone would have had it.
#[test]
fn heard_again_after_the_adverts_timer_ran_out_takes_over_at_once() {
    let t0 = Instant::now();
    let mut b = backup(100, t0);
    let late = t0 + b.master_down_interval() + ms(5);
    let t = t0 + b.master_down_interval() - ms(50);
    assert!(b.master_silent(t, ip(9), (STABLE, 0), ms(10)));
    assert!(b.master_heard_again(late, ip(9)));
    assert_eq!(b.next_timeout(), Some(late));
    b.handle_timeout(late);
    assert_eq!(b.state(), State::Master);
}
