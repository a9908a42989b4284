//! The doctor's view and header badge.

use super::*;
use crate::doctor::{Finding, Report};

fn with_findings() -> Snapshot {
    let mut s = Snapshot::sample(NOW);
    s.doctor = Some(Report {
        taken_at_ms: NOW - 42_000,
        findings: vec![Finding {
            check: "rs-arp-leak".into(),
            host: "real server 192.168.10.73 (02:77:00:00:00:73)".into(),
            probed: "ARP who-has 192.168.10.100 on ens33 (from 192.168.10.71)".into(),
            seen: "192.168.10.73 answered that 192.168.10.100 is at its MAC".into(),
            why: "a DR real server holds the VIP on lo and must never answer for it".into(),
            fix: "on 192.168.10.73: sysctl -w net.ipv4.conf.all.arp_ignore=1 \
                  net.ipv4.conf.all.arp_announce=2"
                .into(),
        }],
        passed: vec!["ip_vs is loaded".into()],
        skipped: vec!["fwmark services: no address to probe".into()],
    });
    s
}

#[test]
fn header_shows_a_badge_while_the_doctor_has_findings() {
    let app = app_with(with_findings(), ConsoleConfig::default());
    let buf = render_buf(&app, &dark(), 160, 48, NOW);
    let first = text_of(&buf).lines().next().unwrap().to_string();
    assert!(first.contains(" DOCTOR: 1 finding · D "), "{first}");
    let healthy = sample_app();
    let first = text_of(&render_buf(&healthy, &dark(), 160, 48, NOW));
    assert!(!first.lines().next().unwrap().contains("DOCTOR"));
}

#[test]
fn d_opens_the_report_and_r_runs_the_doctor_without_a_confirm() {
    let mut app = app_with(with_findings(), ConsoleConfig::default());
    assert!(press(&mut app, &[ch('D')]).is_empty());
    assert!(matches!(app.dialog(), Some(Dialog::Doctor { .. })));
    let screen = text_of(&render_buf(&app, &dark(), 160, 48, NOW));
    assert!(screen.contains("Doctor — 1 finding · 42s ago"), "{screen}");
    assert!(screen.contains("fix   on 192.168.10.73: sysctl -w net.ipv4.conf.all.arp_ignore=1"));
    assert!(screen.contains("ok  ip_vs is loaded"));
    assert!(screen.contains("--  fwmark services: no address to probe"));
    let effects = press(&mut app, &[ch('r')]);
    assert!(matches!(
        effects.as_slice(),
        [Effect::Send(Command::Doctor)]
    ));
    press(&mut app, &[code(KeyCode::Esc)]);
    assert!(app.dialog().is_none());
    // The command line does the same, and shows the report.
    let effects = typed(&mut app, ":doctor");
    assert!(effects.is_empty());
    let effects = press(&mut app, &[code(KeyCode::Enter)]);
    assert!(matches!(
        effects.as_slice(),
        [Effect::Send(Command::Doctor)]
    ));
    assert!(matches!(app.dialog(), Some(Dialog::Doctor { .. })));
}

#[test]
fn a_read_only_console_shows_the_report_but_runs_no_probe() {
    let mut app = app_with(
        with_findings(),
        ConsoleConfig {
            read_only: true,
            ..ConsoleConfig::default()
        },
    );
    press(&mut app, &[ch('D')]);
    assert!(matches!(app.dialog(), Some(Dialog::Doctor { .. })));
    assert!(press(&mut app, &[ch('r')]).is_empty());
    assert_eq!(app.status().unwrap().kind, StatusKind::Refused);
}

#[test]
fn before_the_first_run_the_view_says_so() {
    let mut app = sample_app();
    press(&mut app, &[ch('D')]);
    let screen = text_of(&render_buf(&app, &dark(), 160, 48, NOW));
    assert!(screen.contains("has not run the doctor yet"), "{screen}");
}

#[test]
fn snapshot_doctor() {
    let mut app = app_with(with_findings(), ConsoleConfig::default());
    press(&mut app, &[ch('D')]);
    snap_both("doctor", &app, &dark(), NOW);
}
