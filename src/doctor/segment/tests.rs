use super::*;
use crate::snapshot::VrrpState;

fn seed() -> Config {
    crate::lab::director_model(false).expect("the lab's configuration")
}

const MASTER_MAC: Mac = [2, 0x77, 0, 0, 0, 0x71];
const BACKUP_MAC: Mac = [2, 0x77, 0, 0, 0, 0x70];

fn heard(src: &str, mac: Mac, priority: u8, vips: &[&str], count: u32) -> Heard {
    Heard {
        ifname: "eth0".into(),
        mac,
        src: src.parse().unwrap(),
        vrid: 51,
        priority,
        addrs: vips.iter().map(|v| v.parse().unwrap()).collect(),
        count,
    }
}

fn local(state: VrrpState) -> LocalState {
    LocalState {
        vrrp: vec![("VI_1".into(), state)],
        ..LocalState::default()
    }
}

fn judged(local: &LocalState, heard: &[Heard]) -> Report {
    let mut report = Report::default();
    judge(&seed(), local, heard, Duration::from_secs(3), &mut report);
    report
}

fn checks(r: &Report) -> Vec<&str> {
    r.findings.iter().map(|f| f.check.as_str()).collect()
}

#[test]
fn a_backup_that_hears_its_master_is_fine() {
    let r = judged(
        &local(VrrpState::Backup),
        &[heard("10.10.10.71", MASTER_MAC, 100, &["10.10.10.100"], 3)],
    );
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    assert!(r.passed[0].contains("master 10.10.10.71 (02:77:00:00:00:71)"));
}

#[test]
fn a_master_that_hears_no_one_is_fine() {
    assert!(judged(&local(VrrpState::Master), &[]).findings.is_empty());
}

#[test]
fn a_backup_or_no_daemon_hearing_nothing_is_a_finding() {
    assert_eq!(
        checks(&judged(&local(VrrpState::Backup), &[])),
        ["no-master-heard"]
    );
    let r = judged(&LocalState::default(), &[]);
    assert_eq!(checks(&r), ["no-master-heard"]);
    assert!(r.findings[0].seen.contains("no lvsdeck daemon"));
}

#[test]
fn a_second_master_heard_steadily_is_a_split_brain() {
    let other = heard("10.10.10.70", BACKUP_MAC, 90, &["10.10.10.100"], 3);
    let r = judged(&local(VrrpState::Master), std::slice::from_ref(&other));
    assert_eq!(checks(&r), ["split-brain"]);
    assert_eq!(r.findings[0].host, "10.10.10.70 (02:77:00:00:00:70)");
    // One advert is a take-over under way, not yet two masters.
    let once = Heard { count: 1, ..other };
    assert!(
        judged(&local(VrrpState::Master), &[once])
            .findings
            .is_empty()
    );
}

#[test]
fn a_stopping_master_at_priority_zero_is_no_master() {
    let r = judged(
        &local(VrrpState::Backup),
        &[heard("10.10.10.71", MASTER_MAC, 0, &["10.10.10.100"], 1)],
    );
    assert_eq!(checks(&r), ["no-master-heard"]);
}

#[test]
fn our_vrid_with_other_addresses_is_a_conflict() {
    let r = judged(
        &local(VrrpState::Master),
        &[heard(
            "10.10.10.5",
            [2, 0, 0, 0, 0, 5],
            200,
            &["10.10.10.200"],
            3,
        )],
    );
    assert_eq!(checks(&r), ["vrid-conflict"]);
    let f = &r.findings[0];
    assert!(f.seen.contains("10.10.10.200"), "{}", f.seen);
    assert!(f.fix.contains("virtual_router_id"));
}

#[test]
fn adverts_of_other_vrids_or_interfaces_are_not_ours() {
    let mut other_vrid = heard("10.10.10.5", [2, 0, 0, 0, 0, 5], 200, &["10.10.10.200"], 3);
    other_vrid.vrid = 52;
    let mut other_if = heard("10.10.10.6", [2, 0, 0, 0, 0, 6], 200, &["10.10.10.200"], 3);
    other_if.ifname = "eth1".into();
    assert!(
        judged(&local(VrrpState::Master), &[other_vrid, other_if])
            .findings
            .is_empty()
    );
}

#[test]
fn adverts_are_grouped_by_sender() {
    let a = heard("10.10.10.71", MASTER_MAC, 100, &["10.10.10.100"], 1);
    let g = group(vec![a.clone(), a.clone(), a]);
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].count, 3);
}

#[test]
fn the_split_brain_fix_points_at_the_deaf_director() {
    // Equal or lower priority heard: the other one is deaf.
    let other = heard("10.10.10.70", BACKUP_MAC, 90, &["10.10.10.100"], 3);
    let r = judged(&local(VrrpState::Master), std::slice::from_ref(&other));
    assert!(r.findings[0].fix.starts_with("10.10.10.70 does not hear"));
    // A higher priority heard and still master: this one is.
    let higher = Heard {
        priority: 150,
        ..other.clone()
    };
    let r = judged(&local(VrrpState::Master), &[higher]);
    assert!(
        r.findings[0]
            .fix
            .contains("this director's own stack drops them")
    );
    // Our firewall already found dropping them: named as the cause.
    let mut report = Report::default();
    report.find(Finding {
        check: "vrrp-firewall".into(),
        host: "this director".into(),
        probed: "nft -j list ruleset, walked for VI_1: a VRRP advert to 224.0.0.18 on eth0 \
                 (input hook)"
            .into(),
        seen: String::new(),
        why: String::new(),
        fix: String::new(),
    });
    judge(
        &seed(),
        &local(VrrpState::Master),
        &[other],
        Duration::from_secs(3),
        &mut report,
    );
    assert!(
        report.findings[1]
            .fix
            .starts_with("this director's firewall drops")
    );
}

#[test]
fn silence_shorter_than_two_intervals_is_not_judged() {
    let mut report = Report::default();
    judge(
        &seed(),
        &local(VrrpState::Backup),
        &[],
        Duration::from_millis(1500),
        &mut report,
    );
    assert!(report.findings.is_empty());
    assert!(
        report.skipped[0].contains("too short"),
        "{:?}",
        report.skipped
    );
    let mut slow = seed();
    slow.vrrp_instance.get_mut("VI_1").unwrap().advert_int =
        crate::config::model::Dur::from_secs(10);
    assert_eq!(listen_time(&slow), Duration::from_secs(12));
    assert_eq!(listen_time(&seed()), Duration::from_millis(2800));
}
