//! Rendering: one file per pane. Everything writes straight into the frame's buffer and draws
//! only the rows that fit, so a frame costs the same with 4 real servers or 40,000.

mod bfd;
mod bgp;
mod cluster;
mod dialog;
mod doctor;
mod events;
mod header;
mod help;
mod keybar;
mod reals;
mod services;
mod status;
mod table;

pub(crate) use table::{Table, body, collapsed, rows};
mod vrrp;

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Widget};

use crate::tui::app::{App, Dialog, Pane};
use crate::tui::fmt;
use crate::tui::theme::Theme;

pub use help::lines as help_lines;

/// Smallest screen the layout supports; below it a single line says so.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;

/// Draws the whole console for one frame.
pub fn draw(frame: &mut Frame, app: &App, theme: &Theme, now_ms: u64) {
    let area = frame.area();
    let buf = frame.buffer_mut();
    render(buf, area, app, theme, now_ms);
}

/// One list pane alone in `area` (each pane's own snapshot tests).
#[cfg(test)]
pub(crate) fn render_pane(
    pane: Pane,
    buf: &mut Buffer,
    area: Rect,
    app: &App,
    theme: &Theme,
    now_ms: u64,
) {
    buf.set_style(area, theme.base);
    match pane {
        Pane::Vrrp => vrrp::render(buf, area, app, theme, now_ms),
        Pane::Services => services::render(buf, area, app, theme, now_ms),
        Pane::Reals => reals::render(buf, area, app, theme, now_ms),
        Pane::Events => events::render(buf, area, app, theme, now_ms),
    }
}

/// [`draw`] into any buffer area (used by the tests and the benchmark as well).
pub fn render(buf: &mut Buffer, area: Rect, app: &App, theme: &Theme, now_ms: u64) {
    buf.set_style(area, theme.base);
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let msg = format!(
            "lvsdeck: terminal {}x{} is too small; need at least {MIN_WIDTH}x{MIN_HEIGHT}",
            area.width, area.height
        );
        put(buf, area.x, area.y, area.width, &msg, theme.warn);
        return;
    }
    // The lab adds a line under the header: which director, and what the client sees.
    let lab_h = u16::from(app.lab_line.is_some());
    // Several directors: a line each under it (the panes show one of them).
    let cluster_h = cluster::rows(app.cluster.len()).min(area.height.saturating_sub(MIN_HEIGHT));
    let lab_h = lab_h + cluster_h;
    let header = Rect { height: 2, ..area };
    let keybar = Rect {
        y: area.bottom() - 2,
        height: 1,
        ..area
    };
    let status = Rect {
        y: area.bottom() - 1,
        height: 1,
        ..area
    };
    let body = Rect {
        y: area.y + 2 + lab_h,
        height: area.height - 4 - lab_h,
        ..area
    };
    header::render(buf, header, app, theme, now_ms);
    let mut y = area.y + 2;
    if let Some(line) = &app.lab_line {
        put(buf, area.x, y, area.width, line, theme.title);
        y += 1;
    }
    let strip = Rect {
        y,
        height: cluster_h,
        ..area
    };
    cluster::render(buf, strip, &app.cluster, theme);
    render_body(buf, body, app, theme, now_ms);
    if status::needs_two_lines(app, area.width) {
        let both = Rect {
            height: 2,
            ..keybar
        };
        status::render(buf, both, app, theme, now_ms);
    } else {
        keybar::render(buf, keybar, app, theme);
        status::render(buf, status, app, theme, now_ms);
    }

    for d in &app.dialogs {
        match d {
            Dialog::Confirm(c) => dialog::render_confirm(buf, area, c, theme),
            Dialog::Input(i) => dialog::render_input(buf, area, i, theme),
            Dialog::Help { scroll } => help::render(buf, area, app, *scroll, theme),
            Dialog::Doctor { scroll } => doctor::render(buf, area, app, *scroll, theme, now_ms),
        }
    }
}

fn render_body(buf: &mut Buffer, body: Rect, app: &App, theme: &Theme, now_ms: u64) {
    let short = body.height < 30;
    let snap = app.snapshot();
    // BFD sessions under the instances: a heading and a line each, while there is room.
    let bfd_rows = if short { 0 } else { bfd::rows(snap.bfd.len()) };
    let bgp_rows = if short {
        0
    } else {
        bgp::rows(snap.bgp.as_ref())
    };
    let vrrp_rows =
        (snap.vrrp.len().max(1) as u16).min(if short { 2 } else { 6 }) + bfd_rows + bgp_rows;
    let svc_rows = if !snap.ipvs.available && app.has_snapshot() {
        // The reason, wrapped, under one line that says what is wrong.
        let len = snap.ipvs.error.as_deref().map_or(60, str::len) as u16;
        let per_line = body.width.saturating_sub(4).max(20);
        (1 + len.div_ceil(per_line)).min(if short { 4 } else { 6 })
    } else {
        (snap.ipvs.services.len().max(1) as u16).min(if short { 3 } else { 8 })
    };
    let vrrp_h = vrrp_rows + 3;
    let svc_h = svc_rows + 3;
    let rest = body.height.saturating_sub(vrrp_h + svc_h);
    // Short screens: the event log is one line unless focused, then it takes the real
    // servers' place and they become one line.
    let (reals_h, events_h) = if short {
        if app.focus() == Pane::Events {
            (1, rest.saturating_sub(1))
        } else {
            (rest.saturating_sub(1), 1)
        }
    } else {
        let ev = (body.height / 4).clamp(6, 12);
        (rest.saturating_sub(ev), ev)
    };
    let mut y = body.y;
    let mut next = |h: u16| {
        let r = Rect {
            y,
            height: h,
            ..body
        };
        y += h;
        r
    };
    vrrp::render(buf, next(vrrp_h), app, theme, now_ms);
    services::render(buf, next(svc_h), app, theme, now_ms);
    reals::render(buf, next(reals_h), app, theme, now_ms);
    events::render(buf, next(events_h), app, theme, now_ms);
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the panes.

/// Writes `text` at (x, y) in at most `w` columns, ending in `…` when cut. Returns the width
/// written.
pub(crate) fn put(buf: &mut Buffer, x: u16, y: u16, w: u16, text: &str, style: Style) -> u16 {
    if w == 0 {
        return 0;
    }
    let len = text.chars().count();
    if len <= w as usize {
        buf.set_stringn(x, y, text, w as usize, style);
        len as u16
    } else {
        let cut = text
            .char_indices()
            .nth(w as usize - 1)
            .map_or(text.len(), |(i, _)| i);
        buf.set_stringn(x, y, &text[..cut], w as usize - 1, style);
        buf.set_stringn(x + w - 1, y, "…", 1, style);
        w
    }
}

/// [`put`], right-aligned in `w` columns.
pub(crate) fn put_right(buf: &mut Buffer, x: u16, y: u16, w: u16, text: &str, style: Style) {
    let len = text.chars().count() as u16;
    if len >= w {
        put(buf, x, y, w, text, style);
    } else {
        put(buf, x + w - len, y, len, text, style);
    }
}

/// Writes spans one after another from (x, y) within `w` columns. Returns the width written.
pub(crate) fn put_spans(buf: &mut Buffer, x: u16, y: u16, w: u16, spans: &[Span<'_>]) -> u16 {
    let mut used = 0;
    for s in spans {
        if used >= w {
            break;
        }
        used += put(buf, x + used, y, w - used, &s.content, s.style);
    }
    used
}

/// A table column: its heading, natural width, and when it goes on a narrow screen (0: never;
/// the highest number goes first).
#[derive(Clone, Copy)]
pub(crate) struct Col {
    pub title: &'static str,
    pub width: u16,
    pub drop: u8,
    pub right: bool,
}

pub(crate) const fn col(title: &'static str, width: u16, drop: u8, right: bool) -> Col {
    Col {
        title,
        width,
        drop,
        right,
    }
}

/// Column widths for `avail` columns: drops the least important columns until the rest fit
/// (one space between columns), then gives what is left to column `flex`, up to `flex_max`.
pub(crate) fn fit<const N: usize>(
    cols: &[Col; N],
    avail: u16,
    flex: usize,
    flex_max: u16,
) -> [u16; N] {
    let mut w: [u16; N] = std::array::from_fn(|i| cols[i].width);
    let total = |w: &[u16; N]| -> u16 {
        let n = w.iter().filter(|&&x| x > 0).count() as u16;
        w.iter().sum::<u16>() + n.saturating_sub(1)
    };
    while total(&w) > avail {
        let victim = (0..N)
            .filter(|&i| w[i] > 0 && cols[i].drop > 0)
            .max_by_key(|&i| (cols[i].drop, i));
        match victim {
            Some(i) => w[i] = 0,
            None => {
                let over = total(&w) - avail;
                w[flex] = w[flex].saturating_sub(over).max(1);
                break;
            }
        }
    }
    let t = total(&w);
    if t < avail && w[flex] > 0 {
        w[flex] = (w[flex] + avail - t).min(flex_max.max(w[flex]));
    }
    w
}

/// Column x positions for widths from [`fit`].
pub(crate) fn xs<const N: usize>(x0: u16, w: &[u16; N]) -> [u16; N] {
    let mut x = x0;
    std::array::from_fn(|i| {
        let at = x;
        if w[i] > 0 {
            x += w[i] + 1;
        }
        at
    })
}

/// Writes the heading row of a table.
pub(crate) fn headings<const N: usize>(
    buf: &mut Buffer,
    y: u16,
    cols: &[Col; N],
    w: &[u16; N],
    x: &[u16; N],
    theme: &Theme,
) {
    let style = theme.dim.add_modifier(ratatui::style::Modifier::BOLD);
    for i in 0..N {
        if w[i] == 0 {
            continue;
        }
        if cols[i].right {
            put_right(buf, x[i], y, w[i], cols[i].title, style);
        } else {
            put(buf, x[i], y, w[i], cols[i].title, style);
        }
    }
}

/// Writes one cell.
pub(crate) fn cell(buf: &mut Buffer, x: u16, y: u16, w: u16, right: bool, text: &str, s: Style) {
    if w == 0 {
        return;
    }
    if right {
        put_right(buf, x, y, w, text, s);
    } else {
        put(buf, x, y, w, text, s);
    }
}

/// Draws a pane's frame with its title pieces and returns the inside. The focused pane has a
/// thick border in the focus colour; a lost connection turns every border to the stale style.
pub(crate) fn pane(
    buf: &mut Buffer,
    area: Rect,
    app: &App,
    pane: Pane,
    extra: &[Span<'_>],
    theme: &Theme,
) -> Rect {
    let focused = app.focus() == pane && app.dialog().is_none();
    let border = if focused { theme.focus } else { theme.border };
    let mut title = Vec::with_capacity(extra.len() + 4);
    title.push(Span::styled(
        format!(" {} ", pane.title()),
        if focused { theme.focus } else { theme.title },
    ));
    let filter = app.filter(pane);
    if !filter.is_empty() {
        title.push(Span::styled(format!("/{filter} "), theme.warn));
    }
    title.extend(extra.iter().cloned());
    let block = Block::bordered()
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(border)
        .title(Line::from(title));
    let inner = block.inner(area);
    block.render(area, buf);
    inner
}

/// Draws a dialog's `block` and returns the inside, one column in from either border.
pub(crate) fn framed(buf: &mut Buffer, area: Rect, block: ratatui::widgets::Block<'_>) -> Rect {
    let inner = block.inner(area);
    block.render(area, buf);
    Rect {
        x: inner.x + 1,
        width: inner.width.saturating_sub(2),
        ..inner
    }
}

/// The title piece that tells how old a pane's values are when they are stale (values the
/// daemon refreshes every `every_ms`; 0 for the snapshot's own).
pub(crate) fn age_span(
    app: &App,
    at_ms: u64,
    every_ms: u64,
    now_ms: u64,
    theme: &Theme,
) -> Option<Span<'static>> {
    app.is_overdue(at_ms, every_ms, now_ms).then(|| {
        Span::styled(
            format!(" STALE: refreshed {} ", fmt::ago(at_ms, now_ms)),
            theme.stale.add_modifier(ratatui::style::Modifier::REVERSED),
        )
    })
}

/// Highlights a row: the selection of the focused pane in full, of another pane as a marker.
pub(crate) fn select_row(buf: &mut Buffer, inner: Rect, y: u16, focused: bool, theme: &Theme) {
    let row = Rect {
        y,
        height: 1,
        ..inner
    };
    if focused {
        buf.set_style(row, theme.selected);
    } else {
        buf.set_style(
            Rect { width: 1, ..row },
            theme.focus.remove_modifier(ratatui::style::Modifier::BOLD),
        );
        buf[(row.x, y)].set_symbol("›");
    }
}

/// A centred rectangle of at most `w` × `h` inside `area`.
pub(crate) fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// Where to break `text` to fit `width` columns: at the last space that fits, else hard.
pub(crate) fn wrap_at(text: &str, width: usize) -> usize {
    if text.chars().count() <= width {
        return text.len();
    }
    let hard = text
        .char_indices()
        .nth(width)
        .map_or(text.len(), |(i, _)| i);
    text[..hard].rfind(' ').filter(|&i| i > 0).unwrap_or(hard)
}

/// `text` broken into lines of at most `width` columns.
pub(crate) fn wrap(text: &str, width: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let take = wrap_at(rest, width.max(1));
        out.push(rest[..take].trim_end());
        rest = rest[take..].trim_start();
    }
    out
}
