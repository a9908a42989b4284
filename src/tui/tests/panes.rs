//! Each list pane alone, at a wide and a narrow width: its columns, its states and its
//! messages, as snapshots (`render_pane`). The whole screen's snapshots are in `tests.rs`.

use ratatui::layout::Rect;

use super::*;
use crate::tui::view::render_pane;

fn pane_dump(pane: Pane, app: &App, w: u16, h: u16) -> String {
    let area = Rect::new(0, 0, w, h);
    let mut buf = Buffer::empty(area);
    render_pane(pane, &mut buf, area, app, &dark(), NOW);
    dump(&buf)
}

/// The pane at 120 and 64 columns.
fn snap_pane(name: &str, pane: Pane, app: &App, h: u16) {
    for w in [120, 64] {
        insta::assert_snapshot!(format!("pane_{name}_{w}"), pane_dump(pane, app, w, h));
    }
}

#[test]
fn vrrp_pane_master() {
    snap_pane("vrrp_master", Pane::Vrrp, &sample_app(), 5);
}

#[test]
fn vrrp_pane_backup_hearing_the_master_with_a_stale_view() {
    let mut s = Snapshot::sample(NOW);
    let v = &mut s.vrrp[0];
    v.state = VrrpState::Backup;
    v.holds_vips = false;
    v.master_heard = Some(MasterHeard {
        address: "192.168.10.72".into(),
        priority: 150,
        at_ms: NOW - 700,
    });
    v.refreshed_at_ms = NOW - 5_000;
    snap_pane(
        "vrrp_backup_stale",
        Pane::Vrrp,
        &app_with(s, ConsoleConfig::default()),
        5,
    );
}

#[test]
fn vrrp_pane_without_instances() {
    let mut s = Snapshot::sample(NOW);
    s.vrrp.clear();
    let text = pane_dump(Pane::Vrrp, &app_with(s, ConsoleConfig::default()), 80, 5);
    assert!(text.contains("no VRRP instances configured"), "{text}");
}

#[test]
fn services_pane() {
    snap_pane("services", Pane::Services, &sample_app(), 5);
}

#[test]
fn services_pane_quorum_down_with_the_sorry_server() {
    let mut s = Snapshot::sample(NOW);
    let svc = &mut s.ipvs.services[0];
    svc.quorum_up = false;
    svc.sorry_active = true;
    for r in &mut svc.reals {
        r.health = RealHealth::Down;
        r.in_table = false;
    }
    snap_pane(
        "services_quorum_down",
        Pane::Services,
        &app_with(s, ConsoleConfig::default()),
        5,
    );
}

#[test]
fn services_pane_without_ipvs_says_why() {
    let mut s = Snapshot::sample(NOW);
    s.ipvs.available = false;
    s.ipvs.services.clear();
    s.ipvs.error = Some(
        "IPVS is not available: /proc/net/ip_vs is missing; load it with `modprobe ip_vs` (as root)"
            .into(),
    );
    snap_pane(
        "services_no_ipvs",
        Pane::Services,
        &app_with(s, ConsoleConfig::default()),
        6,
    );
}

#[test]
fn reals_pane() {
    snap_pane("reals", Pane::Reals, &sample_app(), 5);
}

#[test]
fn reals_pane_shows_the_operator_column_once_a_server_is_drained() {
    let mut s = Snapshot::sample(NOW);
    let reals = &mut s.ipvs.services[0].reals;
    reals[0].drain = Some(Override {
        value: (),
        by: "alice".into(),
        at_ms: NOW - 30_000,
    });
    reals[0].weight = 0;
    reals[1].health = RealHealth::Down;
    reals[1].in_table = false;
    let app = app_with(s, ConsoleConfig::default());
    snap_pane("reals_drained_and_down", Pane::Reals, &app, 5);
    let text = pane_dump(Pane::Reals, &app, 120, 5);
    assert!(text.contains("draining 206"), "{text}");
    assert!(text.contains("DOWN"), "{text}");
}

#[test]
fn reals_pane_of_a_service_without_real_servers() {
    let mut s = Snapshot::sample(NOW);
    s.ipvs.services[0].reals.clear();
    let text = pane_dump(Pane::Reals, &app_with(s, ConsoleConfig::default()), 80, 5);
    assert!(text.contains("this service has no real servers"), "{text}");
}

#[test]
fn events_pane() {
    snap_pane("events", Pane::Events, &sample_app(), 5);
}

#[test]
fn events_pane_styles_each_kind() {
    let mut s = Snapshot::sample(NOW);
    s.events = [
        (
            EventKind::Operator,
            "drain 192.168.10.72:80 on TCP  192.168.10.100:80: set to weight 0",
        ),
        (EventKind::Health, "down: connection refused"),
        (
            EventKind::Ipvs,
            "edit real server 192.168.10.72:80 weight 0",
        ),
        (EventKind::Daemon, "reloaded"),
        (EventKind::Bgp, "routes: 192.168.10.100/32 announced"),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (kind, message))| EventView {
        at_ms: NOW - 1000 * i as u64,
        kind,
        subject: "subject".into(),
        message: message.into(),
    })
    .collect();
    snap_pane(
        "events_kinds",
        Pane::Events,
        &app_with(s, ConsoleConfig::default()),
        7,
    );
}
