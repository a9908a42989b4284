//! BFD sessions under the VRRP instances.

use super::*;
use crate::snapshot::BfdView;

fn with_sessions() -> Snapshot {
    let mut s = Snapshot::sample(NOW);
    let mut up = BfdView::sample("to_lvs2", "192.168.10.72", NOW);
    up.local = Some("192.168.10.71".parse().unwrap());
    let down = BfdView {
        name: "to_router".into(),
        peer: "fd00::1".parse().unwrap(),
        local: None,
        state: "Down".into(),
        remote_state: "Down".into(),
        remote_disc: 0,
        remote_min_tx_us: 0,
        remote_min_rx_us: 1,
        remote_multiplier: 0,
        tx_interval_us: 1_000_000,
        detection_us: None,
        up_since_ms: None,
        last_down_ms: None,
        last_down_reason: None,
        flaps: 0,
        ..up.clone()
    };
    s.bfd = vec![up, down];
    s
}

#[test]
fn sessions_show_state_intervals_detection_and_last_down() {
    let app = app_with(with_sessions(), ConsoleConfig::default());
    let text = text_of(&render_buf(&app, &dark(), 160, 48, NOW));
    let line = |needle: &str| line_with(&text, needle);
    let up = line("to_lvs2");
    for part in [
        "Up",
        "192.168.10.72",
        "10ms/10ms ×3",
        "50ms/40ms ×3",
        "150ms",
        "control detection time expired",
        "2 flaps",
    ] {
        assert!(up.contains(part), "{part} missing: {up}");
    }
    let down = line("to_router");
    assert!(down.contains("Down") && down.contains("fd00::1"), "{down}");
    // The instance is still there, above them, and the title sums them up.
    assert!(text.contains("VI_1"));
    assert!(text.contains("BFD 1/2 up"));
    let short = text_of(&render_buf(&app, &dark(), 80, 24, NOW));
    assert!(short.contains("BFD 1/2 up"), "{short}");
    snap_both("bfd_sessions", &app, &dark(), NOW);
}
