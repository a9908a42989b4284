//! The event log, newest at the bottom; scrolls back with the arrows, filters with `/`.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Span;

use super::{Col, Table, body, col, collapsed, put, rows};
use crate::snapshot::EventKind;
use crate::snapshot::EventView;
use crate::tui::app::{App, Pane};
use crate::tui::fmt;
use crate::tui::theme::Theme;

const COLS: [Col; 4] = [
    col("when", 11, 0, true),
    col("kind", 8, 2, false),
    col("subject", 30, 1, false),
    col("message", 20, 0, false),
];
const FLEX: usize = 3;

fn kind_style(e: &EventView, theme: &Theme) -> Style {
    match e.kind {
        EventKind::Vrrp => theme.title,
        EventKind::Health if e.message.starts_with("down") => theme.down,
        EventKind::Health => theme.up,
        EventKind::Operator => theme.warn,
        EventKind::Daemon => theme.dim,
        EventKind::Ipvs => theme.backup,
        EventKind::Bgp | EventKind::Doctor => theme.base,
    }
}

pub fn render(buf: &mut Buffer, area: Rect, app: &App, theme: &Theme, now_ms: u64) {
    let snap = app.snapshot();
    let len = app.visible_len(Pane::Events);
    let back = app.selected(Pane::Events);
    let mut extra: Vec<Span> = Vec::new();
    if back > 0 {
        extra.push(Span::styled(
            format!(" scrolled back {back} (End follows) "),
            theme.warn,
        ));
    }
    extra.push(Span::styled(format!(" {len} "), theme.dim));

    if area.height < 3 {
        // One line: the newest event.
        put(buf, area.x, area.y, 2, "▸ ", theme.dim);
        let mut spans: Vec<Span> = vec![Span::styled("Events ", theme.title)];
        if len > 0 {
            let e = &snap.events[app.row(Pane::Events, len - 1)];
            spans.push(Span::styled(
                format!("{} ", fmt::ago(e.at_ms, now_ms)),
                theme.dim,
            ));
            spans.push(Span::styled(format!("{} ", e.kind), kind_style(e, theme)));
            spans.push(Span::styled(
                format!("{}: {}", e.subject, e.message),
                theme.base,
            ));
        } else {
            spans.push(Span::styled("none yet", theme.dim));
        }
        collapsed(buf, area, &spans);
        return;
    }

    let Some((inner, x0, tw)) = body(buf, area, app, Pane::Events, &extra, theme) else {
        return;
    };
    if len == 0 {
        let msg = if snap.events.is_empty() {
            "no events yet"
        } else {
            "no event matches the filter (Esc clears it)"
        };
        put(buf, x0, inner.y, tw, msg, theme.dim);
        return;
    }
    let t = Table::new(&COLS, x0, tw, FLEX, u16::MAX, &[]);
    for (y, i, _) in rows(app, Pane::Events, inner.y, inner.height as usize) {
        let e = &snap.events[i];
        t.cell(buf, 0, y, true, &fmt::ago(e.at_ms, now_ms), theme.dim);
        t.cell(buf, 1, y, false, e.kind.as_str(), kind_style(e, theme));
        t.cell(buf, 2, y, false, &e.subject, theme.base);
        t.cell(buf, 3, y, false, &e.message, theme.base);
    }
}
