//! Drain, undrain, weight, clear and who may: the kernel's table, the saved state, the audit
//! and the answer, in that order.

use super::*;

const VIP: &str = "192.0.2.100:80";

fn drain(real: &str) -> Command {
    Command::Drain {
        target: target(VIP, real),
    }
}

fn undrain(real: &str) -> Command {
    Command::Undrain {
        target: target(VIP, real),
    }
}

fn weight(real: &str, w: Option<u32>) -> Command {
    Command::Weight {
        target: target(VIP, real),
        weight: w,
    }
}

#[test]
fn a_drain_sets_weight_zero_saves_audits_then_answers() {
    let mut rig = Rig::new(CONFIG);
    assert_eq!(rig.weight(VIP, "192.0.2.11:80"), Some(10));
    let mark = rig.seen.len();
    let answer = rig.command(drain("192.0.2.11:80")).unwrap();
    assert!(answer.contains("set to weight 0"), "{answer}");
    assert_eq!(rig.weight(VIP, "192.0.2.11:80"), Some(0));
    let kinds = rig.kinds_since(mark);
    assert_order(
        &kinds,
        &[
            "desired",
            "save",
            "audit",
            "event:operator",
            "answer",
            "publish",
        ],
    );
    // The kernel's change is logged when the worker reports it, after the answer.
    let ipvs = rig.events_since(mark, "ipvs");
    assert!(ipvs.iter().any(|e| e.contains("weight 0")), "{ipvs:?}");
    let saved = rig.saved.last().unwrap();
    assert_eq!(saved.drains.len(), 1);
    assert_eq!(saved.drains[0].address.to_string(), "192.0.2.11");
    assert_eq!(saved.drains[0].set.by, "alice");
    let view = rig.real_view("192.0.2.100:80", "192.0.2.11:80");
    assert_eq!(view.weight, 0);
    assert_eq!(view.drain.as_ref().map(|d| d.by.as_str()), Some("alice"));
    assert_eq!(view.drain.unwrap().at_ms, WALL0);
}

#[test]
fn the_audit_line_names_user_uid_command_and_verdict() {
    let mut rig = Rig::new(CONFIG);
    let mark = rig.seen.len();
    rig.command(drain("192.0.2.11:80")).unwrap();
    let audit: Vec<_> = rig.seen[mark..]
        .iter()
        .filter_map(|s| match s {
            Seen::Audit(line) => Some(line.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(audit.len(), 1);
    let line = &audit[0];
    assert!(line.starts_with(&WALL0.to_string()), "{line}");
    assert!(line.contains("user=alice uid=0"), "{line}");
    assert!(line.contains("command=\"drain 192.0.2.11:80 on 192.0.2.100:80\" done"));
}

#[test]
fn a_drain_of_an_unknown_service_is_refused_and_changes_nothing() {
    let mut rig = Rig::new(CONFIG);
    let mark = rig.seen.len();
    let err = rig
        .command(Command::Drain {
            target: target("192.0.2.200:80", "192.0.2.11:80"),
        })
        .unwrap_err();
    assert!(err.contains("no virtual service `192.0.2.200:80`"), "{err}");
    assert!(
        err.contains("TCP 192.0.2.100:80"),
        "names the services: {err}"
    );
    let kinds = rig.kinds_since(mark);
    assert!(!kinds.contains(&"desired".to_string()), "{kinds:?}");
    assert!(!kinds.contains(&"save".to_string()), "{kinds:?}");
    assert!(in_order(&kinds, &["audit", "event:operator", "answer"]));
    let ops = rig.events_since(mark, "operator");
    assert!(ops[0].contains("refused"), "{ops:?}");
}

#[test]
fn a_drain_of_an_unknown_real_server_names_the_real_servers() {
    let mut rig = Rig::new(CONFIG);
    let err = rig.command(drain("192.0.2.13:80")).unwrap_err();
    assert!(err.contains("has no real server 192.0.2.13:80"), "{err}");
    assert!(err.contains("192.0.2.11:80, 192.0.2.12:80"), "{err}");
    assert_eq!(rig.weight(VIP, "192.0.2.11:80"), Some(10));
}

#[test]
fn a_service_is_named_by_key_or_address_and_a_real_server_by_its_address() {
    let mut rig = Rig::new(CONFIG);
    rig.command(Command::Drain {
        target: target("TCP  192.0.2.100:80", "192.0.2.11"),
    })
    .unwrap();
    assert_eq!(rig.weight(VIP, "192.0.2.11:80"), Some(0));
    rig.command(Command::Drain {
        target: target("TCP 192.0.2.101:443", "192.0.2.21:443"),
    })
    .unwrap();
    assert_eq!(rig.weight("192.0.2.101:443", "192.0.2.21:443"), Some(0));
}

#[test]
fn an_undrain_puts_the_configured_weight_back() {
    let mut rig = Rig::new(CONFIG);
    rig.command(drain("192.0.2.11:80")).unwrap();
    let mark = rig.seen.len();
    let answer = rig.command(undrain("192.0.2.11:80")).unwrap();
    assert_eq!(answer, "192.0.2.11 back to weight 10");
    let kinds = rig.kinds_since(mark);
    assert_order(
        &kinds,
        &[
            "desired",
            "save",
            "audit",
            "event:operator",
            "answer",
            "publish",
        ],
    );
    assert_eq!(rig.weight(VIP, "192.0.2.11:80"), Some(10));
    assert!(rig.saved.last().unwrap().drains.is_empty());
    assert!(
        rig.real_view("192.0.2.100:80", "192.0.2.11:80")
            .drain
            .is_none()
    );
}

#[test]
fn an_undrain_of_a_server_not_drained_is_refused() {
    let mut rig = Rig::new(CONFIG);
    let saves = rig.saved.len();
    let err = rig.command(undrain("192.0.2.11:80")).unwrap_err();
    assert_eq!(err, "192.0.2.11:80 is not drained");
    assert_eq!(rig.saved.len(), saves, "nothing saved");
}

#[test]
fn an_undrain_returns_to_the_operators_weight_when_one_is_set() {
    let mut rig = Rig::new(CONFIG);
    rig.command(weight("192.0.2.11:80", Some(3))).unwrap();
    rig.command(drain("192.0.2.11:80")).unwrap();
    assert_eq!(
        rig.weight(VIP, "192.0.2.11:80"),
        Some(0),
        "a drain beats a weight"
    );
    let answer = rig.command(undrain("192.0.2.11:80")).unwrap();
    assert_eq!(answer, "192.0.2.11 back to weight 3");
    assert_eq!(rig.weight(VIP, "192.0.2.11:80"), Some(3));
}

#[test]
fn a_weight_is_sticky_and_saved_with_who_set_it() {
    let mut rig = Rig::new(CONFIG);
    let mark = rig.seen.len();
    let answer = rig.command(weight("192.0.2.12:80", Some(25))).unwrap();
    assert_eq!(answer, "weight 25 set (sticky until cleared)");
    let kinds = rig.kinds_since(mark);
    assert_order(
        &kinds,
        &["desired", "save", "audit", "answer", "event:ipvs"],
    );
    assert_eq!(rig.weight(VIP, "192.0.2.12:80"), Some(25));
    let saved = rig.saved.last().unwrap();
    assert_eq!(saved.weights[0].set.value, 25);
    let view = rig.real_view("192.0.2.100:80", "192.0.2.12:80");
    assert_eq!(view.weight_override.map(|o| o.value), Some(25));
    assert_eq!(view.configured_weight, 10);
}

#[test]
fn a_weight_over_65535_is_refused() {
    let mut rig = Rig::new(CONFIG);
    let err = rig
        .command(weight("192.0.2.12:80", Some(70000)))
        .unwrap_err();
    assert_eq!(err, "weight 70000 is outside 0..65535");
    assert_eq!(rig.weight(VIP, "192.0.2.12:80"), Some(10));
}

#[test]
fn clearing_a_weight_returns_to_the_configured_one() {
    let mut rig = Rig::new(CONFIG);
    rig.command(weight("192.0.2.12:80", Some(25))).unwrap();
    let answer = rig.command(weight("192.0.2.12:80", None)).unwrap();
    assert_eq!(answer, "weight override cleared");
    assert_eq!(rig.weight(VIP, "192.0.2.12:80"), Some(10));
    assert!(rig.saved.last().unwrap().weights.is_empty());
}

#[test]
fn a_watcher_is_refused_audited_and_changes_nothing() {
    let mut rig = Rig::new(CONFIG);
    let mark = rig.seen.len();
    let err = rig
        .command_as(drain("192.0.2.11:80"), "bob", 1000, false)
        .unwrap_err();
    assert!(err.contains("user bob (uid 1000) may only watch"), "{err}");
    assert_eq!(rig.weight(VIP, "192.0.2.11:80"), Some(10));
    let kinds = rig.kinds_since(mark);
    assert_eq!(
        kinds,
        ["audit", "event:operator", "answer", "publish"],
        "refused before anything is done"
    );
}

#[test]
fn the_admin_group_is_named_when_a_watcher_is_refused() {
    let text = CONFIG.replace("[global]\n", "[global]\nadmin_group = \"lvsops\"\n");
    let mut rig = Rig::new(&text);
    let err = rig
        .command_as(drain("192.0.2.11:80"), "bob", 1000, false)
        .unwrap_err();
    assert!(err.ends_with("admin group `lvsops`"), "{err}");
}

#[test]
fn a_state_file_that_cannot_be_written_is_said_in_the_answer() {
    let mut rig = Rig::new(CONFIG);
    rig.save_error = Some("disk full".into());
    let answer = rig.command(drain("192.0.2.11:80")).unwrap();
    assert!(
        answer.ends_with("; NOT SAVED, lost on a restart: disk full"),
        "{answer}"
    );
    // The drain itself holds: the table is what the operator asked.
    assert_eq!(rig.weight(VIP, "192.0.2.11:80"), Some(0));
}

#[test]
fn commands_sent_together_are_answered_one_by_one_in_order() {
    let mut rig = Rig::new(CONFIG);
    let mark = rig.seen.len();
    for (command, admin) in [
        (drain("192.0.2.11:80"), true),
        (drain("192.0.2.12:80"), false),
        (weight("192.0.2.21:443", Some(7)), true),
    ] {
        let req = Request {
            command,
            user: "carol".into(),
            uid: 1,
            admin,
        };
        rig.core.handle(rig.now(), In::Command(req));
    }
    rig.feed(In::Vrrp {
        states: BTreeMap::from([("VI_1".into(), "MASTER".into())]),
        events: vec![],
    });
    let answers: Vec<_> = rig.seen[mark..]
        .iter()
        .filter_map(|s| match s {
            Seen::Answer(r) => Some(r.is_ok()),
            _ => None,
        })
        .collect();
    assert_eq!(answers, [true, false, false], "in the order sent");
    assert_eq!(rig.weight(VIP, "192.0.2.11:80"), Some(0));
    assert_eq!(rig.weight(VIP, "192.0.2.12:80"), Some(10));
}

#[test]
fn clear_removes_drains_weights_and_priorities_in_one_answer() {
    let mut rig = Rig::new(CONFIG);
    rig.command(drain("192.0.2.11:80")).unwrap();
    rig.command(weight("192.0.2.12:80", Some(4))).unwrap();
    rig.command(Command::Priority {
        instance: "VI_1".into(),
        priority: Some(50),
    })
    .unwrap();
    let answer = rig.command(Command::Clear).unwrap();
    assert_eq!(
        answer,
        "cleared 1 drain(s), 1 weight override(s), 1 priority override(s), 0 hand-over hold(s)"
    );
    assert_eq!(rig.weight(VIP, "192.0.2.11:80"), Some(10));
    assert_eq!(rig.weight(VIP, "192.0.2.12:80"), Some(10));
    assert!(rig.saved.last().unwrap().is_empty());
    assert_eq!(rig.sim.instance(0).unwrap().priority_override(), None);
}

#[test]
fn the_doctor_is_the_shells_and_its_answer_is_not_saved() {
    let mut rig = Rig::new(CONFIG);
    let mark = rig.seen.len();
    let answer = rig.command(Command::Doctor).unwrap();
    assert_eq!(answer, "the doctor runs now");
    let kinds = rig.kinds_since(mark);
    assert!(!kinds.contains(&"save".to_string()), "{kinds:?}");
    assert!(in_order(&kinds, &["delegate", "audit", "answer"]));
}
