//! The virtual services: address, scheduler, forwarding method, real servers up, connections,
//! new connections per second and byte rates. Without IPVS in the kernel, the reason and what
//! to do take the pane's place.

use std::fmt::Write;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Span;

use super::{Col, Table, age_span, body, col, put, rows, select_row, wrap_at};
use crate::tui::app::{App, Pane};
use crate::tui::fmt;
use crate::tui::theme::Theme;

const COLS: [Col; 10] = [
    col("service", 24, 0, false),
    col("sched", 5, 3, false),
    col("fwd", 4, 4, false),
    col("reals", 14, 0, false),
    col("active", 7, 0, true),
    col("inact", 7, 6, true),
    col("cps", 7, 0, true),
    col("in", 10, 2, true),
    col("out", 10, 5, true),
    col("notes", 10, 1, false),
];
const FLEX: usize = 9;

pub fn render(buf: &mut Buffer, area: Rect, app: &App, theme: &Theme, now_ms: u64) {
    let snap = app.snapshot();
    let ipvs = &snap.ipvs;
    let mut extra: Vec<Span> = Vec::new();
    if app.has_snapshot()
        && let Some(s) = age_span(
            app,
            ipvs.refreshed_at_ms,
            ipvs.refresh_interval_ms,
            now_ms,
            theme,
        )
    {
        extra.push(s);
    }
    let Some((inner, x0, tw)) = body(buf, area, app, Pane::Services, &extra, theme) else {
        return;
    };
    if !app.has_snapshot() {
        put(
            buf,
            x0,
            inner.y,
            tw,
            "waiting for the first snapshot…",
            theme.dim,
        );
        return;
    }
    let mut top = inner.y;
    if !ipvs.available {
        let why = ipvs
            .error
            .as_deref()
            .unwrap_or("the kernel reported no IPVS; load it with `modprobe ip_vs`");
        if !ipvs.services.is_empty() {
            // The configured services still show, with their health: one line says why
            // nothing is in the kernel.
            put(buf, x0, top, tw, why, theme.fault);
            top += 1;
        } else {
            put(
                buf,
                x0,
                top,
                tw,
                "IPVS is not available on this director",
                theme.fault,
            );
            // Wrap the reason over the remaining lines.
            let mut y = top + 1;
            let mut rest = why;
            while y < inner.bottom() && !rest.is_empty() {
                let take = wrap_at(rest, tw as usize);
                put(buf, x0, y, tw, rest[..take].trim_end(), theme.error);
                rest = rest[take..].trim_start();
                y += 1;
            }
            return;
        }
    }
    if top >= inner.bottom() {
        return;
    }
    let inner = Rect {
        y: top,
        height: inner.bottom() - top,
        ..inner
    };
    let t = Table::new(&COLS, x0, tw, FLEX, u16::MAX, &[]);
    t.head(buf, inner.y, &COLS, theme);
    let lines = inner.height as usize - 1;
    if app.visible_len(Pane::Services) == 0 {
        let msg = if ipvs.services.is_empty() {
            "no virtual services in the table"
        } else {
            "no service matches the filter (Esc clears it)"
        };
        put(buf, x0, inner.y + 1, tw, msg, theme.dim);
        return;
    }
    let stale = app.is_overdue(ipvs.refreshed_at_ms, ipvs.refresh_interval_ms, now_ms);
    let val = if stale { theme.stale } else { theme.base };
    let focused = app.focus() == Pane::Services && app.dialog().is_none();
    let mut s = String::with_capacity(64);
    for (y, i, selected) in rows(app, Pane::Services, inner.y + 1, lines) {
        let v = &ipvs.services[i];
        let c = app.counts.get(i).copied().unwrap_or_default();
        t.cell(buf, 0, y, false, &v.key, theme.base);
        t.cell(buf, 1, y, false, &v.scheduler, theme.dim);
        t.cell(buf, 2, y, false, v.method.as_str(), theme.dim);
        s.clear();
        let _ = write!(s, "{}/{} up", c.up, c.total);
        if c.draining + c.drained > 0 {
            let _ = write!(s, " {}⊘", c.draining + c.drained);
        }
        let reals_style = if c.total > 0 && c.up == 0 {
            theme.fault
        } else if c.down > 0 || c.unknown > 0 {
            theme.warn
        } else if stale {
            theme.stale
        } else {
            theme.up
        };
        t.cell(buf, 3, y, false, &s, reals_style);
        t.cell(buf, 4, y, true, &fmt::si(v.active_conns as f64), val);
        t.cell(buf, 5, y, true, &fmt::si(v.inactive_conns as f64), val);
        t.cell(buf, 6, y, true, &fmt::si(v.cps), val);
        t.cell(buf, 7, y, true, &fmt::rate(v.in_bps), val);
        t.cell(buf, 8, y, true, &fmt::rate(v.out_bps), val);
        s.clear();
        if !v.quorum_up {
            s.push_str("QUORUM DOWN ");
        }
        if v.sorry_active {
            s.push_str("sorry server ");
        }
        if let Some(p) = v.persistence_s {
            let _ = write!(s, "persist {p}s");
        }
        let note_style = if !v.quorum_up || v.sorry_active {
            theme.fault
        } else {
            theme.dim
        };
        t.cell(buf, 9, y, false, s.trim_end(), note_style);
        if selected {
            select_row(buf, inner, y, focused, theme);
        }
    }
}
