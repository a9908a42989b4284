//! `[bgp]`: the sessions and announcements under the VRRP instances, the drain-director key
//! and its confirm dialog, and the cluster strip of a console following several directors.

use super::*;
use crate::snapshot::{BgpRouteView, BgpSessionView, BgpView, Override};
use crate::tui::cluster;

fn with_bgp(drained: bool, cps: f64) -> Snapshot {
    let mut s = Snapshot::sample(NOW);
    for v in &mut s.ipvs.services {
        v.cps = 0.0;
    }
    s.ipvs.services[0].cps = cps;
    s.bgp = Some(BgpView {
        speaker: "BIRD at /run/bird/bird.ctl".into(),
        reachable: true,
        error: None,
        checked_at_ms: NOW - 300,
        local_as: 65001,
        sessions: vec![BgpSessionView {
            name: "lvsdeck_r1".into(),
            neighbor: "10.20.0.254".into(),
            remote_as: 65000,
            bfd: true,
            state: "up".into(),
            info: "Established".into(),
            since: "08:14:04.983".into(),
            established: true,
        }],
        routes: vec![
            BgpRouteView {
                prefix: "192.168.10.100/32".into(),
                announced: !drained,
                why: if drained {
                    "withdrawn: director drained by alice".into()
                } else {
                    "announced".into()
                },
                in_bird: true,
            },
            BgpRouteView {
                prefix: "192.168.10.101/32".into(),
                announced: false,
                why: "withdrawn: quorum lost on TCP 192.168.10.101:80".into(),
                in_bird: true,
            },
        ],
        drained: drained.then(|| Override {
            value: (),
            by: "alice".into(),
            at_ms: NOW - 60_000,
        }),
        stopping: false,
    });
    s
}

#[test]
fn sessions_and_what_is_announced_show_under_the_instances() {
    let app = app_with(with_bgp(false, 10.0), ConsoleConfig::default());
    let text = text_of(&render_buf(&app, &dark(), 160, 48, NOW));
    let line = |needle: &str| line_with(&text, needle);
    let session = line("lvsdeck_r1");
    for part in [
        "up",
        "10.20.0.254 AS65000 bfd",
        "Established",
        "08:14:04.983",
    ] {
        assert!(session.contains(part), "{part} missing: {session}");
    }
    let routes = line("announces");
    assert!(routes.contains("announces 192.168.10.100/32"), "{routes}");
    assert!(
        routes.contains("192.168.10.101/32 withdrawn: quorum lost"),
        "{routes}"
    );
    assert!(text.contains("BGP 1/1 up"));
    snap_both("bgp_sessions", &app, &dark(), NOW);
    // The VRRP pane's key bar offers the drain of the whole director.
    let mut app = app;
    press(&mut app, &[code(KeyCode::BackTab)]);
    let text = text_of(&render_buf(&app, &dark(), 160, 48, NOW));
    assert!(
        text.contains("W drain director"),
        "the key bar offers it:\n{text}"
    );
}

#[test]
fn drain_director_confirms_naming_what_is_withdrawn_then_sends() {
    let mut app = app_with(with_bgp(false, 10.0), ConsoleConfig::default());
    assert!(app.handle_key(ch('W'), NOW).is_empty());
    let text = text_of(&render_buf(&app, &dark(), 160, 48, NOW));
    assert!(text.contains("Drain this director?"), "{text}");
    assert!(text.contains("192.168.10.100/32"), "{text}");
    // It opens on Cancel: Enter alone sends nothing.
    assert!(app.handle_key(code(KeyCode::Enter), NOW).is_empty());
    app.handle_key(ch('W'), NOW);
    app.handle_key(code(KeyCode::Left), NOW);
    assert_eq!(
        app.handle_key(code(KeyCode::Enter), NOW),
        [Effect::Send(Command::DrainDirector)]
    );
    // Drained: the same key offers the way back.
    let mut app = app_with(with_bgp(true, 0.0), ConsoleConfig::default());
    app.handle_key(ch('W'), NOW);
    let text = text_of(&render_buf(&app, &dark(), 160, 48, NOW));
    assert!(
        text.contains("Undrain this director?") && text.contains("alice"),
        "{text}"
    );
    app.handle_key(code(KeyCode::Left), NOW);
    assert_eq!(
        app.handle_key(code(KeyCode::Enter), NOW),
        [Effect::Send(Command::UndrainDirector)]
    );
}

#[test]
fn without_bgp_the_key_is_refused_and_not_offered() {
    let mut app = app_with(Snapshot::sample(NOW), ConsoleConfig::default());
    let text = text_of(&render_buf(&app, &dark(), 160, 48, NOW));
    assert!(!text.contains("drain director"), "{text}");
    assert!(app.handle_key(ch('W'), NOW).is_empty());
    let text = text_of(&render_buf(&app, &dark(), 160, 48, NOW));
    assert!(text.contains("no [bgp]"), "{text}");
}

#[test]
fn the_cluster_strip_lists_every_director_with_its_share() {
    let (a, b, c) = (
        with_bgp(false, 30.0),
        with_bgp(false, 10.0),
        with_bgp(true, 0.0),
    );
    let up = ConnectionState::Connected { since_ms: NOW };
    let config = ConsoleConfig {
        directors: 3,
        ..Default::default()
    };
    let mut app = app_with(b.clone(), config);
    app.set_cluster(cluster::rows(
        &[
            ("d1", Some(&a), &up),
            ("d2", Some(&b), &up),
            ("d3", Some(&c), &up),
        ],
        1,
        NOW,
    ));
    let text = text_of(&render_buf(&app, &dark(), 160, 48, NOW));
    let line = |needle: &str| line_with(&text, needle);
    assert!(line("▶ d2").contains("25%"), "{text}");
    assert!(line("  d1").contains("75%"), "{text}");
    assert!(line("  d3").contains("DRAINED by alice"), "{text}");
    snap_both("bgp_cluster", &app, &dark(), NOW);
}
