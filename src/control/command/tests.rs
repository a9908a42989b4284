use super::*;
use crate::snapshot::{Snapshot, VrrpState};

const NOW: u64 = 1_800_000_000_000;

#[test]
fn a_weight_is_0_to_65535_or_clear_or_nothing() {
    assert_eq!(weight::parse("0"), Ok(Some(0)));
    assert_eq!(weight::parse("65535"), Ok(Some(65535)));
    assert_eq!(weight::parse("clear"), Ok(None));
    assert_eq!(weight::parse(" "), Ok(None));
    let err = weight::parse("65536").unwrap_err();
    assert_eq!(
        err,
        "\"65536\" is not a weight: give 0-65535, or nothing to clear"
    );
    assert!(weight::parse("x").is_err());
    assert!(weight::parse("-1").is_err());
    assert_eq!(
        weight::validate(Some(70_000)),
        Err("weight 70000 is outside 0..65535".into())
    );
}

#[test]
fn a_priority_is_1_to_254_or_clear_or_nothing() {
    assert_eq!(priority::parse("1"), Ok(Some(1)));
    assert_eq!(priority::parse("254"), Ok(Some(254)));
    assert_eq!(priority::parse("clear"), Ok(None));
    assert!(priority::parse("0").is_err());
    assert!(priority::parse("255").is_err());
    assert!(
        priority::parse("high")
            .unwrap_err()
            .contains("is not a priority: give 1-254")
    );
}

#[test]
fn a_service_is_named_by_its_key_with_any_spacing_or_by_its_address() {
    assert!(names_service("TCP  192.0.2.1:80", "TCP 192.0.2.1:80"));
    assert!(names_service("TCP 192.0.2.1:80", "TCP  192.0.2.1:80"));
    assert!(names_service("TCP  192.0.2.1:80", "192.0.2.1:80"));
    assert!(names_service("FWM  7", "FWM 7"));
    assert!(!names_service("TCP  192.0.2.1:80", "192.0.2.1:8080"));
    assert!(!names_service("UDP  192.0.2.1:80", "TCP 192.0.2.1:80"));
}

#[test]
fn a_real_server_is_named_by_its_endpoint_or_its_address() {
    assert!(names_real("10.0.0.11", 80, "10.0.0.11:80"));
    assert!(names_real("10.0.0.11", 80, "10.0.0.11"));
    assert!(names_real("fd00::1", 80, "[fd00::1]:80"));
    assert!(names_real("fd00::1", 80, "[fd00::1]"));
    assert!(names_real("fd00::1", 80, "fd00::1"));
    assert!(!names_real("10.0.0.11", 80, "10.0.0.11:81"));
    assert!(!names_real("10.0.0.11", 80, "10.0.0.1"));
}

#[test]
fn descriptions_are_stable_for_the_audit_trail() {
    let t = RealTarget {
        service: "TCP  192.0.2.1:80".into(),
        real: "10.0.0.11:80".into(),
    };
    let d = |c: Command| c.describe();
    assert_eq!(
        d(Command::Drain { target: t.clone() }),
        "drain 10.0.0.11:80 on TCP  192.0.2.1:80"
    );
    assert_eq!(
        d(Command::Undrain { target: t.clone() }),
        "undrain 10.0.0.11:80 on TCP  192.0.2.1:80"
    );
    assert_eq!(
        d(Command::Weight {
            target: t.clone(),
            weight: Some(3)
        }),
        "set weight 3 for 10.0.0.11:80 on TCP  192.0.2.1:80"
    );
    assert_eq!(
        d(Command::Weight {
            target: t,
            weight: None
        }),
        "clear the weight override of 10.0.0.11:80 on TCP  192.0.2.1:80"
    );
    assert_eq!(
        d(Command::Priority {
            instance: "VI_1".into(),
            priority: Some(50)
        }),
        "override the priority of VI_1 to 50"
    );
    assert_eq!(
        d(Command::Handover {
            instance: "VI_1".into()
        }),
        "hand over VI_1 to a backup"
    );
    assert_eq!(d(Command::Reload), "reload the configuration");
    assert_eq!(d(Command::Doctor), "run the doctor's checks");
    assert!(d(Command::DrainDirector).starts_with("drain this director"));
}

#[test]
fn a_drained_server_cannot_be_drained_again_nor_an_undrained_one_undrained() {
    let snap = Snapshot::sample(NOW);
    let s = &snap.ipvs.services[0];
    let r = &s.reals[0];
    assert!(r.drain.is_none());
    let c = drain::confirm_drain(s, r).unwrap();
    assert_eq!(c.title, "Drain real server?");
    assert_eq!(c.lines[0], ("service".to_string(), s.key.clone()));
    assert_eq!(
        c.command,
        Command::Drain {
            target: target(s, r)
        }
    );
    let err = drain::confirm_undrain(s, r).unwrap_err();
    assert!(err.ends_with("is not drained"), "{err}");
}

#[test]
fn only_a_master_hands_over() {
    let snap = Snapshot::sample(NOW);
    let master = snap.vrrp.iter().find(|v| v.state == "MASTER").unwrap();
    let c = handover::confirm(master).unwrap();
    assert_eq!(
        c.command,
        Command::Handover {
            instance: master.name.clone()
        }
    );
    let mut backup = master.clone();
    backup.state = VrrpState::Backup;
    let err = handover::confirm(&backup).unwrap_err();
    assert!(err.contains("only a MASTER can hand over"), "{err}");
}

#[test]
fn a_director_without_bgp_cannot_be_drained() {
    let mut snap = Snapshot::sample(NOW);
    snap.bgp = None;
    let err = director::confirm(&snap).unwrap_err();
    assert!(err.contains("no [bgp]"), "{err}");
}
