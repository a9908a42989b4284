//! The VRRP instances: state, who holds the VIPs, priorities (with the operator's override),
//! the master heard, advert counters and the last transition with its reason. An instance whose
//! values are stale shows their age in its own column.

use std::fmt::Write;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Span;

use super::{Col, Table, age_span, body, col, put, rows, select_row};
use crate::snapshot::VrrpState;
use crate::tui::app::{App, Pane};
use crate::tui::fmt;
use crate::tui::theme::Theme;

const COLS: [Col; 9] = [
    col("instance", 10, 0, false),
    col("state", 8, 0, false),
    col("if/vrid", 11, 5, false),
    col("VIPs", 19, 2, false),
    col("prio/base", 9, 0, false),
    col("master heard", 24, 3, false),
    col("adverts in/out", 14, 4, true),
    col("last transition", 20, 1, false),
    col("age", 9, 0, true),
];
const FLEX: usize = 7;
const AGE: usize = 8;

pub fn render(buf: &mut Buffer, area: Rect, app: &App, theme: &Theme, now_ms: u64) {
    let snap = app.snapshot();
    let stale_at = snap.vrrp.iter().map(|v| v.refreshed_at_ms).min();
    let mut extra: Vec<Span> = Vec::new();
    if !snap.bfd.is_empty() {
        // The sessions in one word, for screens too short for their lines.
        let up = snap.bfd.iter().filter(|b| b.state == "Up").count();
        let style = if up == snap.bfd.len() {
            theme.dim
        } else {
            theme.warn
        };
        extra.push(Span::styled(
            format!("BFD {up}/{} up ", snap.bfd.len()),
            style,
        ));
    }
    if let Some(b) = &snap.bgp {
        let (up, all) = b.sessions_up();
        let ok = b.reachable && up == all && b.drained.is_none();
        let text = match (&b.drained, b.reachable) {
            (Some(_), _) => "BGP DRAINED ".to_string(),
            (None, false) => "BIRD DOWN ".to_string(),
            (None, true) => format!("BGP {up}/{all} up "),
        };
        extra.push(Span::styled(text, if ok { theme.dim } else { theme.warn }));
    }
    if let Some(s) = stale_at.and_then(|at| age_span(app, at, 0, now_ms, theme)) {
        extra.push(s);
    }
    let Some((inner, x0, tw)) = body(buf, area, app, Pane::Vrrp, &extra, theme) else {
        return;
    };
    let any_stale = snap
        .vrrp
        .iter()
        .any(|v| app.is_stale(v.refreshed_at_ms, now_ms));
    let hidden: &[usize] = if any_stale { &[] } else { &[AGE] };
    let t = Table::new(&COLS, x0, tw, FLEX, u16::MAX, hidden);
    t.head(buf, inner.y, &COLS, theme);
    // The BFD sessions take the pane's last lines (the layout made room for them).
    // The layout's rule: a heading and up to three sessions, below at least one instance.
    let wanted = super::bfd::rows(snap.bfd.len());
    let bfd_rows = if inner.height < wanted + 2 { 0 } else { wanted };
    super::bfd::render(
        buf,
        Rect {
            x: x0,
            y: inner.y + inner.height - bfd_rows,
            width: tw,
            height: bfd_rows,
        },
        &snap.bfd,
        theme,
        now_ms,
    );
    // BGP's lines under BFD's, on the same rule.
    let wanted = super::bgp::rows(snap.bgp.as_ref());
    let bgp_rows = if inner.height < bfd_rows + wanted + 2 {
        0
    } else {
        wanted
    };
    if let Some(b) = &snap.bgp {
        super::bgp::render(
            buf,
            Rect {
                x: x0,
                y: inner.y + inner.height - bfd_rows - bgp_rows,
                width: tw,
                height: bgp_rows,
            },
            b,
            theme,
        );
    }
    let lines = (inner.height - bfd_rows - bgp_rows) as usize - 1;
    if app.visible_len(Pane::Vrrp) == 0 {
        let msg = if !app.has_snapshot() {
            "waiting for the first snapshot…"
        } else if snap.vrrp.is_empty() {
            "no VRRP instances configured"
        } else {
            "no instance matches the filter (Esc clears it)"
        };
        put(buf, x0, inner.y + 1, tw, msg, theme.dim);
        return;
    }
    let focused = app.focus() == Pane::Vrrp && app.dialog().is_none();
    let mut s = String::with_capacity(64);
    for (y, i, selected) in rows(app, Pane::Vrrp, inner.y + 1, lines) {
        let v = &snap.vrrp[i];
        let stale = app.is_stale(v.refreshed_at_ms, now_ms);
        let val = if stale { theme.stale } else { theme.base };
        t.cell(buf, 0, y, false, &v.name, theme.base);
        let state_style = if stale {
            theme.stale
        } else {
            theme.vrrp_state(v.state)
        };
        s.clear();
        s.push_str(v.state.as_str());
        if stale {
            s.push('?');
        }
        t.cell(buf, 1, y, false, &s, state_style);
        s.clear();
        let _ = write!(s, "{}/{}", v.interface, v.vrid);
        t.cell(buf, 2, y, false, &s, theme.dim);
        s.clear();
        s.push_str(if v.holds_vips { "● " } else { "○ " });
        if let Some(first) = v.vips.first() {
            s.push_str(first);
        }
        if v.vips.len() > 1 {
            let _ = write!(s, " +{}", v.vips.len() - 1);
        }
        let vip_style = if v.holds_vips { val } else { theme.dim };
        t.cell(buf, 3, y, false, &s, vip_style);
        s.clear();
        match &v.priority_override {
            Some(_) => {
                let _ = write!(s, "{}*/{}", v.effective_priority, v.base_priority);
            }
            None if v.effective_priority != v.base_priority => {
                let _ = write!(s, "{}/{}", v.effective_priority, v.base_priority);
            }
            None => {
                let _ = write!(s, "{}", v.effective_priority);
            }
        }
        let prio_style = if v.priority_override.is_some() {
            theme.warn
        } else {
            val
        };
        t.cell(buf, 4, y, false, &s, prio_style);
        s.clear();
        match &v.master_heard {
            _ if v.state == VrrpState::Master => s.push_str("(this director)"),
            Some(m) => {
                let _ = write!(
                    s,
                    "{} p{} {}",
                    m.address,
                    m.priority,
                    fmt::ago(m.at_ms, now_ms)
                );
            }
            None => s.push('—'),
        }
        let heard_style = match &v.master_heard {
            Some(m) if v.state != VrrpState::Master && app.is_stale(m.at_ms, now_ms) => theme.stale,
            _ => {
                if v.state == VrrpState::Master {
                    theme.dim
                } else {
                    val
                }
            }
        };
        t.cell(buf, 5, y, false, &s, heard_style);
        s.clear();
        let _ = write!(
            s,
            "{}/{}",
            fmt::si(v.adverts_in as f64),
            fmt::si(v.adverts_out as f64)
        );
        t.cell(buf, 6, y, true, &s, val);
        s.clear();
        if v.handing_over {
            s.push_str("handing over… ");
        }
        if let Some(t) = &v.last_transition {
            let _ = write!(
                s,
                "{}→{} {}: {}",
                t.from,
                t.to,
                fmt::ago(t.at_ms, now_ms),
                t.reason
            );
        }
        if v.split_brain > 0 {
            let _ = write!(s, " · split brain ×{}", v.split_brain);
        }
        let tr_style = if v.handing_over || v.split_brain > 0 {
            theme.warn
        } else {
            theme.base
        };
        t.cell(buf, 7, y, false, &s, tr_style);
        if stale {
            s.clear();
            s.push_str(&fmt::ago(v.refreshed_at_ms, now_ms));
            t.cell(buf, AGE, y, true, &s, theme.stale);
        }
        if selected {
            select_row(buf, inner, y, focused, theme);
        }
    }
}
