//! The two header lines: who and what this director is, its host's load, and the state of the
//! connection to the engines. A lost connection turns the header red and says so.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Span;

use super::{put, put_right, put_spans};
use crate::snapshot::VrrpState;
use crate::tui::app::{App, ConnectionState};
use crate::tui::fmt;
use crate::tui::theme::Theme;

/// The director's role from its VRRP instances: the one state they share, or a count of each.
pub fn role(app: &App) -> (String, Option<VrrpState>) {
    let v = &app.snapshot().vrrp;
    if v.is_empty() {
        return ("no VRRP".into(), None);
    }
    let states = [
        VrrpState::Master,
        VrrpState::Backup,
        VrrpState::Fault,
        VrrpState::Init,
    ];
    let n = |s: VrrpState| v.iter().filter(|x| x.state == s).count();
    if let Some(s) = states.iter().find(|s| n(**s) == v.len()) {
        return (s.as_str().into(), Some(*s));
    }
    let mut parts = Vec::new();
    for s in states {
        let k = n(s);
        if k > 0 {
            parts.push(format!("{k} {s}"));
        }
    }
    let worst = if n(VrrpState::Fault) > 0 {
        VrrpState::Fault
    } else {
        VrrpState::Init
    };
    (format!("MIXED ({})", parts.join(", ")), Some(worst))
}

pub fn render(buf: &mut Buffer, area: Rect, app: &App, theme: &Theme, now_ms: u64) {
    let snap = app.snapshot();
    let host = &snap.host;
    let lost = matches!(app.connection(), ConnectionState::Lost { .. });
    let base = if lost { theme.lost } else { theme.header };
    buf.set_style(area, base);
    let on = |s: Style| base.patch(s);
    let (y1, y2, w) = (area.y, area.y + 1, area.width);

    // Line 1: a lost connection first (it must never be cut off), then identity, role, mode
    // and connection, with the uptime and the RO badge on the right.
    let mut l1: Vec<Span> = Vec::with_capacity(12);
    l1.push(Span::styled(" lvsdeck ", on(theme.title)));
    if let ConnectionState::Lost { since_ms, reason } = app.connection() {
        l1.push(Span::styled(
            format!(
                "✗ connection lost {} — values frozen ({reason})  ",
                fmt::ago(*since_ms, now_ms)
            ),
            base,
        ));
    }
    if app.has_snapshot() {
        let name = match &host.router_id {
            Some(id) if *id != host.hostname => format!("{} ({id})", host.hostname),
            _ => host.hostname.clone(),
        };
        l1.push(Span::styled(name, base));
        l1.push(Span::styled("  ", base));
        let (role, state) = role(app);
        let oldest = snap.vrrp.iter().map(|v| v.refreshed_at_ms).min();
        let stale = oldest.is_some_and(|at| app.is_stale(at, now_ms));
        let role_style = match state {
            None => on(theme.dim),
            Some(_) if stale => on(theme.stale),
            // The role on the header's background: reversed to stand out.
            Some(state) => {
                on(theme.vrrp_state(state)).add_modifier(ratatui::style::Modifier::REVERSED)
            }
        };
        let mark = if stale { "?" } else { "" };
        l1.push(Span::styled(format!(" {role}{mark} "), role_style));
        l1.push(Span::styled("  ", base));
    }
    match app.connection() {
        ConnectionState::Embedded => {
            l1.push(Span::styled("embedded (q stops the engines)", base));
        }
        ConnectionState::Connected { .. } => {
            let mode = if host.mode.is_empty() {
                "daemon"
            } else {
                host.mode.as_str()
            };
            l1.push(Span::styled(format!("{mode}  ● connected"), base));
        }
        ConnectionState::Connecting { since_ms } => {
            l1.push(Span::styled(
                format!(
                    "connecting to the daemon… ({})",
                    fmt::ago(*since_ms, now_ms)
                ),
                on(theme.warn),
            ));
        }
        ConnectionState::Lost { .. } => {}
    }
    let badge_w = if app.read_only() { 5 } else { 0 };
    let uptime = if app.has_snapshot() && host.started_at_ms > 0 {
        format!(
            "up {} ",
            fmt::dur(now_ms.saturating_sub(host.started_at_ms))
        )
    } else {
        String::new()
    };
    // Something the doctor found stays in sight until it is fixed.
    let findings = snap.doctor.as_ref().map_or(0, |r| r.findings.len());
    let doctor = if findings > 0 && app.has_snapshot() {
        let key = app
            .config()
            .keymap
            .primary(crate::tui::keymap::Action::Doctor)
            .map(|k| format!(" · {k}"))
            .unwrap_or_default();
        let s = if findings == 1 { "" } else { "s" };
        format!(" DOCTOR: {findings} finding{s}{key} ")
    } else {
        String::new()
    };
    let doctor_w = doctor.chars().count() as u16;
    let right_w = uptime.chars().count() as u16 + badge_w + doctor_w + u16::from(doctor_w > 0);
    put_spans(buf, area.x, y1, w.saturating_sub(right_w + 1), &l1);
    put_right(buf, area.x, y1, w - badge_w, &uptime, base);
    if doctor_w > 0 {
        let x = area.right().saturating_sub(right_w);
        put(
            buf,
            x,
            y1,
            doctor_w,
            &doctor,
            theme.warn.add_modifier(ratatui::style::Modifier::REVERSED),
        );
    }
    if app.read_only() {
        put(
            buf,
            area.right() - badge_w,
            y1,
            badge_w,
            " RO ",
            theme.badge,
        );
    }

    // Line 2: host load and the config path; their age when stale.
    if !app.has_snapshot() {
        put(
            buf,
            area.x,
            y2,
            w,
            " waiting for the first snapshot",
            on(theme.dim),
        );
        return;
    }
    let stale = app.is_stale(host.refreshed_at_ms, now_ms);
    let val = if stale { on(theme.stale) } else { base };
    let mut l2: Vec<Span> = Vec::with_capacity(12);
    l2.push(Span::styled(" cpu ", on(theme.dim)));
    l2.push(Span::styled(format!("{:.1}%", host.cpu_percent), val));
    l2.push(Span::styled("  mem ", on(theme.dim)));
    l2.push(Span::styled(
        format!(
            "{}/{}",
            fmt::bytes(host.mem_used_bytes as f64),
            fmt::bytes(host.mem_total_bytes as f64)
        ),
        val,
    ));
    l2.push(Span::styled("  net ", on(theme.dim)));
    l2.push(Span::styled(
        format!(
            "↓{} ↑{}",
            fmt::rate(host.net_rx_bps as f64),
            fmt::rate(host.net_tx_bps as f64)
        ),
        val,
    ));
    if stale {
        l2.push(Span::styled(
            format!(" ({})", fmt::ago(host.refreshed_at_ms, now_ms)),
            on(theme.stale),
        ));
    }
    let used = put_spans(buf, area.x, y2, w, &l2);
    let path = format!("{} ", host.config_path);
    let room = w.saturating_sub(used + 2);
    if room >= 12 {
        put_right(buf, area.right() - room, y2, room, &path, on(theme.dim));
    }
}
