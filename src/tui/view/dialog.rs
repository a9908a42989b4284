//! The confirm dialog (names the exact target, old → new, opens on Cancel) and the one-line
//! input dialog (weight, priority).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Widget};

use super::{centered, put, put_spans, wrap};
use crate::tui::app::{Confirm, Input};
use crate::tui::theme::Theme;

fn frame(
    buf: &mut Buffer,
    screen: Rect,
    title: &str,
    lines: &[(String, String)],
    min_text_w: u16,
    extra_h: u16,
    theme: &Theme,
) -> Rect {
    let label_w = lines
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0) as u16
        + 2;
    let text_w = lines
        .iter()
        .map(|(_, v)| v.chars().count() as u16 + label_w)
        .max()
        .unwrap_or(0)
        .max(title.chars().count() as u16 + 4)
        .max(min_text_w);
    let w = (text_w + 4).clamp(44, screen.width.saturating_sub(4).max(20));
    let h = lines.len() as u16 + extra_h + 2;
    let area = centered(screen, w, h);
    Clear.render(area, buf);
    buf.set_style(area, theme.base);
    let block = Block::bordered()
        .border_type(BorderType::Double)
        .border_style(theme.warn)
        .title(Line::from(Span::styled(format!(" {title} "), theme.warn)));
    let inner = super::framed(buf, area, block);
    for (i, (label, value)) in lines.iter().enumerate() {
        let y = inner.y + i as u16;
        if y >= inner.bottom() {
            break;
        }
        put(buf, inner.x, y, label_w.min(inner.width), label, theme.dim);
        put(
            buf,
            inner.x + label_w.min(inner.width),
            y,
            inner.width.saturating_sub(label_w),
            value,
            theme.base.add_modifier(Modifier::BOLD),
        );
    }
    inner
}

pub fn render_confirm(buf: &mut Buffer, screen: Rect, c: &Confirm, theme: &Theme) {
    let note = c.note.as_deref().unwrap_or("");
    // The dialog is at most the screen less 4 columns, with 2 of border and 2 of margin.
    let room = screen.width.saturating_sub(8).max(10) as usize;
    let note_lines = wrap(note, room);
    let widest = note_lines
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0);
    let h = 2 + note_lines.len() as u16;
    let inner = frame(buf, screen, &c.title, &c.lines, widest as u16, h, theme);
    let mut y = inner.y + c.lines.len() as u16;
    for l in &note_lines {
        if y < inner.bottom() {
            put(buf, inner.x, y, inner.width, l, theme.dim);
        }
        y += 1;
    }
    y += 1;
    if y >= inner.bottom() {
        y = inner.bottom().saturating_sub(1);
    }
    let (cancel, confirm) = if c.on_confirm {
        (theme.base, theme.selected)
    } else {
        (theme.selected, theme.base)
    };
    let buttons = [
        Span::styled(
            if c.on_confirm {
                "  Cancel  "
            } else {
                "[ Cancel ]"
            },
            cancel,
        ),
        Span::raw("   "),
        Span::styled(
            if c.on_confirm {
                "[ Confirm ]"
            } else {
                "  Confirm  "
            },
            confirm,
        ),
    ];
    let bw = 24;
    let x = inner.x + inner.width.saturating_sub(bw) / 2;
    put_spans(buf, x, y, inner.width, &buttons);
}

pub fn render_input(buf: &mut Buffer, screen: Rect, i: &Input, theme: &Theme) {
    let inner = frame(
        buf,
        screen,
        &i.title,
        &i.lines,
        i.hint.chars().count() as u16,
        3,
        theme,
    );
    let mut y = inner.y + i.lines.len() as u16;
    put(buf, inner.x, y, inner.width, &i.hint, theme.dim);
    y += 1;
    let n = put(buf, inner.x, y, inner.width, "› ", theme.key);
    let m = put(
        buf,
        inner.x + n,
        y,
        inner.width.saturating_sub(n + 1),
        &i.text,
        theme.base.add_modifier(Modifier::BOLD),
    );
    if n + m < inner.width {
        put(
            buf,
            inner.x + n + m,
            y,
            1,
            " ",
            theme.base.add_modifier(Modifier::REVERSED),
        );
    }
    y += 1;
    if let Some(e) = &i.error {
        put(buf, inner.x, y, inner.width, e, theme.error);
    }
}
