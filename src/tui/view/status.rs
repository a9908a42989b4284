//! The status line: the prompt being typed (`/` filter, `:` command), else the outcome of the
//! last thing asked — sent, done, or refused and why.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;

use super::{put, put_right, wrap};
use crate::tui::app::{App, PromptKind, StatusKind};
use crate::tui::fmt;
use crate::tui::theme::Theme;

/// Whether the status message needs two lines at this width (the key bar then gives way).
pub fn needs_two_lines(app: &App, width: u16) -> bool {
    app.prompt().is_none()
        && app.dialog().is_none()
        && app.status().is_some_and(|s| {
            s.kind == StatusKind::Refused && s.text.chars().count() + 4 > width as usize
        })
}

pub fn render(buf: &mut Buffer, area: Rect, app: &App, theme: &Theme, now_ms: u64) {
    if let Some(p) = app.prompt() {
        let lead = match p.kind {
            PromptKind::Filter(pane) => format!("/{} filter: ", pane.title().to_lowercase()),
            PromptKind::Command => ":".to_string(),
        };
        let n = put(buf, area.x, area.y, area.width, &lead, theme.key);
        // Keep the end of a long input in view.
        let room = area.width.saturating_sub(n + 1) as usize;
        let len = p.text.chars().count();
        let shown: String = p.text.chars().skip(len.saturating_sub(room)).collect();
        let m = put(buf, area.x + n, area.y, room as u16, &shown, theme.base);
        if n + m < area.width {
            put(
                buf,
                area.x + n + m,
                area.y,
                1,
                " ",
                theme.base.add_modifier(Modifier::REVERSED),
            );
        }
        return;
    }
    let help = app
        .config()
        .keymap
        .primary(crate::tui::keymap::Action::Help)
        .map(|k| format!("{k} help "))
        .unwrap_or_default();
    let hw = help.chars().count() as u16;
    if let Some(s) = app.status() {
        let (mark, style) = match s.kind {
            StatusKind::Info => ("", theme.dim),
            StatusKind::Pending => ("… ", theme.warn),
            StatusKind::Done => ("✓ ", theme.ok),
            StatusKind::Refused => ("✗ ", theme.error),
        };
        let age = now_ms.saturating_sub(s.at_ms);
        let text = if age >= 5000 {
            format!(" {mark}{} ({})", s.text, fmt::ago(s.at_ms, now_ms))
        } else {
            format!(" {mark}{}", s.text)
        };
        // The message has the whole area if it needs it (a long refusal takes the key bar's
        // line too); the help hint only where it fits.
        let lines = wrap(&text, area.width.saturating_sub(3) as usize);
        let mut n = 0;
        for (i, l) in lines.iter().take(area.height as usize).enumerate() {
            let lead = if i == 0 { " " } else { "   " };
            n = put(
                buf,
                area.x,
                area.y + i as u16,
                area.width,
                &format!("{lead}{l}"),
                style,
            );
        }
        let last = area.y + (lines.len().clamp(1, area.height as usize) - 1) as u16;
        if n + hw < area.width {
            put_right(buf, area.x, last, area.width, &help, theme.dim);
        }
        return;
    }
    put_right(buf, area.x, area.y, area.width, &help, theme.dim);
}
