//! The BFD sessions, under the VRRP instances in their pane: state, peer, our intervals and
//! the peer's, the detection time, and when and why the session last went down.

use std::fmt::Write;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::{Col, Table, col};
use crate::snapshot::BfdView;
use crate::tui::fmt;
use crate::tui::theme::Theme;

const COLS: [Col; 7] = [
    col("BFD session", 12, 0, false),
    col("state", 9, 0, false),
    col("peer", 22, 3, false),
    col("tx/rx ×mult", 16, 1, false),
    col("peer's", 16, 4, false),
    col("detect", 8, 2, true),
    col("last down", 30, 5, false),
];
const FLEX: usize = 6;

/// Lines the sessions take in the VRRP pane: a heading and up to three sessions (the layout
/// makes room for them; the pane draws them when it has one instance line left besides).
pub fn rows(sessions: usize) -> u16 {
    if sessions == 0 {
        0
    } else {
        (sessions as u16 + 1).min(4)
    }
}

/// Rows `area` has room for: a heading, then one line per session.
pub fn render(buf: &mut Buffer, area: Rect, sessions: &[BfdView], theme: &Theme, now_ms: u64) {
    if area.height < 2 || sessions.is_empty() {
        return;
    }
    let t = Table::new(&COLS, area.x, area.width, FLEX, u16::MAX, &[]);
    t.head(buf, area.y, &COLS, theme);
    let mut s = String::with_capacity(48);
    for (k, b) in sessions.iter().take(area.height as usize - 1).enumerate() {
        let y = area.y + 1 + k as u16;
        t.cell(buf, 0, y, false, &b.name, theme.base);
        let style = match b.state.as_str() {
            "Up" => theme.up,
            "Down" => theme.down,
            _ => theme.warn,
        };
        s.clear();
        s.push_str(&b.state);
        if b.error.is_some() {
            s.push('!');
        }
        t.cell(buf, 1, y, false, &s, style);
        t.cell(buf, 2, y, false, &b.peer.to_string(), theme.dim);
        s.clear();
        let _ = write!(
            s,
            "{}/{} ×{}",
            ms(b.min_tx_us),
            ms(b.min_rx_us),
            b.multiplier
        );
        t.cell(buf, 3, y, false, &s, theme.base);
        s.clear();
        if b.remote_multiplier > 0 {
            let _ = write!(
                s,
                "{}/{} ×{}",
                ms(b.remote_min_tx_us),
                ms(b.remote_min_rx_us),
                b.remote_multiplier
            );
        } else {
            s.push('—');
        }
        t.cell(buf, 4, y, false, &s, theme.dim);
        s.clear();
        match b.detection_us {
            Some(d) => s.push_str(&ms(d)),
            None => s.push('—'),
        }
        t.cell(buf, 5, y, true, &s, theme.base);
        s.clear();
        if let Some(e) = &b.error {
            s.push_str(e);
        } else if let (Some(at), Some(why)) = (b.last_down_ms, &b.last_down_reason) {
            let _ = write!(s, "{}: {why}", fmt::ago(at, now_ms));
            if b.flaps > 1 {
                let _ = write!(s, " · {} flaps", b.flaps);
            }
        }
        let last_style = if b.error.is_some() {
            theme.error
        } else {
            theme.dim
        };
        t.cell(buf, 6, y, false, &s, last_style);
    }
}

/// Microseconds as the shortest of "10ms", "2.5ms", "1s".
fn ms(us: u64) -> String {
    if us >= 1_000_000 && us.is_multiple_of(1_000_000) {
        format!("{}s", us / 1_000_000)
    } else if us.is_multiple_of(1000) {
        format!("{}ms", us / 1000)
    } else {
        format!("{:.1}ms", us as f64 / 1000.0)
    }
}
