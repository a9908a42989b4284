//! The list panes' table, shared by the four list panes and the strips beside them: the
//! columns laid out and headed, cells written by column, and the rows of a pane's list that
//! fit under the headings.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Span;

use super::{Col, cell, fit, headings, pane, put_spans, xs};
use crate::tui::app::{App, Pane};
use crate::tui::theme::Theme;

/// Columns laid out across a pane: where each starts and how wide it is (0: not shown).
pub(crate) struct Table<const N: usize> {
    pub x: [u16; N],
    pub w: [u16; N],
}

impl<const N: usize> Table<N> {
    /// `cols` across `width` from `x0` ([`fit`]: the least important go first; column `flex`
    /// takes what is left, up to `flex_max`); the `hidden` ones are not shown at all.
    pub fn new(
        cols: &[Col; N],
        x0: u16,
        width: u16,
        flex: usize,
        flex_max: u16,
        hidden: &[usize],
    ) -> Table<N> {
        let mut cols = *cols;
        for &i in hidden {
            cols[i].width = 0;
        }
        let mut w = fit(&cols, width, flex, flex_max);
        for &i in hidden {
            w[i] = 0;
        }
        Table { x: xs(x0, &w), w }
    }

    /// The headings, on line `y`.
    pub fn head(&self, buf: &mut Buffer, y: u16, cols: &[Col; N], theme: &Theme) {
        headings(buf, y, cols, &self.w, &self.x, theme);
    }

    /// Column `i` of line `y`.
    pub fn cell(&self, buf: &mut Buffer, i: usize, y: u16, right: bool, text: &str, s: Style) {
        cell(buf, self.x[i], y, self.w[i], right, text, s);
    }
}

/// The rows of `pane`'s list that fit in `lines` lines from `y0`, scrolled to keep the
/// selection in view: (line, index in the list, whether it is the selected row).
pub(crate) fn rows(
    app: &App,
    pane: Pane,
    y0: u16,
    lines: usize,
) -> impl Iterator<Item = (u16, usize, bool)> + '_ {
    let (start, end) = app.window(pane, lines);
    let selected = app.selected(pane);
    (start..end)
        .enumerate()
        .map(move |(k, pos)| (y0 + k as u16, app.row(pane, pos), pos == selected))
}

/// A list pane's frame drawn with its title pieces; the inside with its text's left edge and
/// width, or None when there is no room for text.
pub(crate) fn body(
    buf: &mut Buffer,
    area: Rect,
    app: &App,
    which: Pane,
    extra: &[Span<'_>],
    theme: &Theme,
) -> Option<(Rect, u16, u16)> {
    let inner = pane(buf, area, app, which, extra, theme);
    if inner.height == 0 || inner.width < 2 {
        return None;
    }
    Some((inner, inner.x + 1, inner.width - 1))
}

/// A pane collapsed to its one title line (short screens): `spans` after the marker.
pub(crate) fn collapsed(buf: &mut Buffer, area: Rect, spans: &[Span<'_>]) {
    let width = area.width.saturating_sub(2);
    put_spans(buf, area.x + 2, area.y, width, spans);
}
