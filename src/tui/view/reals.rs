//! The real servers of the selected service: weight (kernel / configured, `*` for an operator's
//! override), health with the last check, connections, new connections per second with a
//! sparkline of their history, and drain progress. Only the rows in view are drawn.

use std::fmt::Write;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Span;

use super::{Col, Table, age_span, body, col, collapsed, pane, put, rows, select_row};
use crate::snapshot::RealHealth;
use crate::tui::app::{App, Pane};
use crate::tui::fmt;
use crate::tui::theme::Theme;

const COLS: [Col; 11] = [
    col("real server", 16, 0, false),
    col("weight", 6, 0, true),
    col("cfg", 4, 7, true),
    col("health", 6, 0, false),
    col("last check", 14, 2, false),
    col("active", 7, 0, true),
    col("inact", 7, 6, true),
    col("cps", 6, 3, true),
    col("cps trend", 10, 4, false),
    col("in", 10, 8, true),
    col("operator", 16, 0, false),
];
const FLEX: usize = 4;
const TREND: usize = 8;
const OPERATOR: usize = 10;

pub fn render(buf: &mut Buffer, area: Rect, app: &App, theme: &Theme, now_ms: u64) {
    let snap = app.snapshot();
    let Some(si) = app.selected_service_index() else {
        let inner = pane(buf, area, app, Pane::Reals, &[], theme);
        if inner.height > 0 && inner.width > 2 {
            let msg = if app.has_snapshot() && !snap.ipvs.available {
                "no IPVS: no real servers to show"
            } else {
                "select a virtual service to see its real servers"
            };
            put(buf, inner.x + 1, inner.y, inner.width - 1, msg, theme.dim);
        }
        return;
    };
    let svc = &snap.ipvs.services[si];
    let c = app.counts.get(si).copied().unwrap_or_default();
    let mut extra: Vec<Span> = Vec::with_capacity(10);
    extra.push(Span::styled(format!("of {} ", svc.key), theme.title));
    extra.push(Span::styled(format!(" {} up ", c.up), theme.up));
    if c.down > 0 {
        extra.push(Span::styled(format!(" {} down ", c.down), theme.down));
    }
    if c.unknown > 0 {
        extra.push(Span::styled(
            format!(" {} unknown ", c.unknown),
            theme.unknown,
        ));
    }
    if c.draining > 0 {
        extra.push(Span::styled(
            format!(" {} draining ", c.draining),
            theme.draining,
        ));
    }
    if c.drained > 0 {
        extra.push(Span::styled(format!(" {} drained ", c.drained), theme.dim));
    }
    let len = app.visible_len(Pane::Reals);
    if len > 0 {
        extra.push(Span::styled(
            format!(" {}/{} ", app.selected(Pane::Reals) + 1, len),
            theme.dim,
        ));
    }
    if let Some(s) = age_span(
        app,
        snap.ipvs.refreshed_at_ms,
        snap.ipvs.refresh_interval_ms,
        now_ms,
        theme,
    ) {
        extra.push(s);
    }

    if area.height < 3 {
        // Collapsed to one line (short screens while the event log has the focus).
        put(buf, area.x, area.y, 2, "▸ ", theme.dim);
        let mut spans = vec![Span::styled("Real servers ", theme.title)];
        spans.extend(extra);
        collapsed(buf, area, &spans);
        return;
    }

    let Some((inner, x0, tw)) = body(buf, area, app, Pane::Reals, &extra, theme) else {
        return;
    };
    let lines = inner.height as usize - 1;
    if len == 0 {
        let msg = if svc.reals.is_empty() {
            "this service has no real servers"
        } else {
            "no real server matches the filter (Esc clears it)"
        };
        put(buf, x0, inner.y + 1, tw, msg, theme.dim);
        return;
    }
    let (start, end) = app.window(Pane::Reals, lines);

    // Size the address column to the rows in view; hide the operator column when nobody
    // has drained or re-weighted anything in this service.
    let mut cols = COLS;
    let mut addr_w = 11;
    let mut operator = c.draining + c.drained > 0;
    for pos in start..end {
        let r = &svc.reals[app.row(Pane::Reals, pos)];
        let port = match r.port {
            0 => 0,
            p => 2 + p.ilog10() as usize,
        };
        let n = r.address.len() + port + usize::from(r.address.contains(':')) * 2;
        addr_w = addr_w.max(n);
        operator |= r.weight_override.is_some() || r.drain.is_some();
    }
    cols[0].width = addr_w.min(45) as u16;
    let hidden: &[usize] = if operator { &[] } else { &[OPERATOR] };
    let t = Table::new(&cols, x0, tw, FLEX, 32, hidden);
    t.head(buf, inner.y, &cols, theme);

    let stale = app.is_overdue(
        snap.ipvs.refreshed_at_ms,
        snap.ipvs.refresh_interval_ms,
        now_ms,
    );
    let val = if stale { theme.stale } else { theme.base };
    let focused = app.focus() == Pane::Reals && app.dialog().is_none();
    let mut s = String::with_capacity(64);
    for (y, i, selected) in rows(app, Pane::Reals, inner.y + 1, lines) {
        let r = &svc.reals[i];
        s.clear();
        fmt::push_endpoint(&mut s, &r.address, r.port);
        let addr_style = if r.in_table { theme.base } else { theme.dim };
        t.cell(buf, 0, y, false, &s, addr_style);

        s.clear();
        let _ = write!(s, "{}", r.weight);
        if r.weight_override.is_some() {
            s.push('*');
        }
        if !r.in_table {
            s.clear();
            s.push('—');
        }
        let wstyle = if r.weight_override.is_some() {
            theme.warn
        } else if r.drain.is_some() {
            theme.draining
        } else {
            val
        };
        t.cell(buf, 1, y, true, &s, wstyle);
        s.clear();
        let _ = write!(s, "{}", r.configured_weight);
        t.cell(buf, 2, y, true, &s, theme.dim);

        let (htext, hstyle) = match r.health {
            RealHealth::Up => ("up", theme.up),
            RealHealth::Down => ("DOWN", theme.down),
            RealHealth::Sorry => ("sorry", theme.unknown),
            RealHealth::Unknown => ("?", theme.unknown),
        };
        t.cell(
            buf,
            3,
            y,
            false,
            htext,
            if stale { theme.stale } else { hstyle },
        );

        s.clear();
        match &r.last_check {
            Some(chk) => {
                if chk.ok {
                    push_latency(&mut s, chk.latency_ms);
                } else {
                    s.push_str(&chk.message);
                }
                s.push(' ');
                s.push_str(&fmt::ago(chk.at_ms, now_ms));
            }
            None => s.push_str("no check yet"),
        }
        let cstyle = match &r.last_check {
            Some(chk) if !chk.ok => theme.down,
            Some(_) if stale => theme.stale,
            Some(_) => theme.dim,
            None => theme.unknown,
        };
        t.cell(buf, 4, y, false, &s, cstyle);

        t.cell(buf, 5, y, true, &fmt::si(r.active_conns as f64), val);
        t.cell(buf, 6, y, true, &fmt::si(r.inactive_conns as f64), val);
        t.cell(buf, 7, y, true, &fmt::si(r.cps), val);
        if t.w[TREND] > 0 {
            sparkline(
                buf,
                t.x[TREND],
                y,
                t.w[TREND],
                &r.cps_history,
                if stale { theme.stale } else { theme.up },
            );
        }
        t.cell(buf, 9, y, true, &fmt::rate(r.in_bps), val);

        if t.w[OPERATOR] > 0 {
            s.clear();
            let ostyle = if let Some(d) = &r.drain {
                if r.active_conns > 0 {
                    let _ = write!(s, "draining {} left", r.active_conns);
                    theme.draining
                } else {
                    let _ = write!(s, "drained by {}", d.by);
                    theme.dim
                }
            } else if let Some(o) = &r.weight_override {
                let _ = write!(s, "weight by {}", o.by);
                theme.dim
            } else {
                theme.dim
            };
            t.cell(buf, OPERATOR, y, false, &s, ostyle);
        }
        if selected {
            select_row(buf, inner, y, focused, theme);
        }
    }
}

fn push_latency(s: &mut String, ms: f64) {
    let _ = if ms < 10.0 {
        write!(s, "{ms:.1}ms")
    } else if ms < 1000.0 {
        write!(s, "{ms:.0}ms")
    } else {
        write!(s, "{:.1}s", ms / 1000.0)
    };
}

/// The newest `w` samples as bars, scaled to the largest of them.
fn sparkline(
    buf: &mut Buffer,
    x: u16,
    y: u16,
    w: u16,
    history: &[f64],
    style: ratatui::style::Style,
) {
    let n = history.len().min(w as usize);
    let tail = &history[history.len() - n..];
    let max = tail.iter().copied().fold(0.0_f64, f64::max);
    for (i, v) in tail.iter().enumerate() {
        let c = &mut buf[(x + i as u16, y)];
        c.set_char(fmt::bar(*v, max));
        c.set_style(style);
    }
}
