//! The doctor's view: the daemon's last `lvsdeck doctor` report over the panes — each
//! finding with its host, what was seen and the fix, then what passed and what could not be
//! checked. `r` runs the checks again.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Widget};

use super::{centered, put, wrap};
use crate::doctor::Report;
use crate::tui::app::App;
use crate::tui::fmt;
use crate::tui::theme::Theme;

/// The report as styled lines `width` columns wide.
fn lines(report: Option<&Report>, width: usize, theme: &Theme) -> Vec<(String, Style)> {
    let mut out = Vec::new();
    let Some(report) = report else {
        out.push((
            "The daemon has not run the doctor yet (it does 10 s after start); r runs it now."
                .to_string(),
            theme.dim,
        ));
        return out;
    };
    let para = |out: &mut Vec<(String, Style)>, label: &str, text: &str, style: Style| {
        let indent = " ".repeat(label.chars().count());
        for (i, piece) in wrap(text, width.saturating_sub(indent.len()))
            .into_iter()
            .enumerate()
        {
            let head = if i == 0 { label } else { &indent };
            out.push((format!("{head}{piece}"), style));
        }
    };
    if report.findings.is_empty() {
        out.push((
            format!("No finding: {} checks passed.", report.passed.len()),
            theme.ok,
        ));
    }
    for (i, f) in report.findings.iter().enumerate() {
        if i > 0 {
            out.push((String::new(), theme.base));
        }
        para(
            &mut out,
            "",
            &format!("{}. {} — {}", i + 1, f.host, f.check),
            theme.warn,
        );
        para(&mut out, "   seen  ", &f.seen, theme.base);
        para(&mut out, "   why   ", &f.why, theme.dim);
        para(&mut out, "   fix   ", &f.fix, theme.key);
        para(&mut out, "   probe ", &f.probed, theme.dim);
    }
    if !report.passed.is_empty() {
        out.push((String::new(), theme.base));
        for p in &report.passed {
            para(&mut out, "ok  ", p, theme.ok);
        }
    }
    if !report.skipped.is_empty() {
        out.push((String::new(), theme.base));
        for s in &report.skipped {
            para(&mut out, "--  ", s, theme.dim);
        }
    }
    out
}

pub fn render(
    buf: &mut Buffer,
    screen: Rect,
    app: &App,
    scroll: usize,
    theme: &Theme,
    now_ms: u64,
) {
    let report = app.snapshot().doctor.as_ref();
    let width = screen.width.saturating_sub(4).min(116);
    let body = lines(report, width.saturating_sub(4) as usize, theme);
    let area = centered(screen, width, body.len() as u16 + 2);
    Clear.render(area, buf);
    buf.set_style(area, theme.base);
    let title = match report {
        Some(r) => format!(
            " Doctor — {} finding{} · {} ",
            r.findings.len(),
            if r.findings.len() == 1 { "" } else { "s" },
            fmt::ago(r.taken_at_ms, now_ms)
        ),
        None => " Doctor ".to_string(),
    };
    let inner_h = area.height.saturating_sub(2) as usize;
    let skip = scroll.min(body.len().saturating_sub(inner_h));
    let more = if body.len() > inner_h {
        " ↑↓ scroll · r runs it again · esc closes "
    } else {
        " r runs it again · esc closes "
    };
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(theme.focus)
        .title(Line::from(Span::styled(title, theme.title)))
        .title_bottom(Line::from(Span::styled(more, theme.dim)).right_aligned());
    let inner = block.inner(area);
    block.render(area, buf);
    for (row, (text, style)) in body.iter().skip(skip).take(inner_h).enumerate() {
        put(
            buf,
            inner.x + 1,
            inner.y + row as u16,
            inner.width.saturating_sub(2),
            text,
            *style,
        );
    }
}
