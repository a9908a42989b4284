//! The cluster strip under the header, when the console follows several directors: one line
//! each (▶ marks the one the panes show; `>` switches), with its link, VRRP, BGP, what it
//! announces and its share of the cluster's new connections.

use std::fmt::Write;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::{Col, Table, col};
use crate::tui::cluster::ClusterRow;
use crate::tui::theme::Theme;

const COLS: [Col; 8] = [
    col("director", 12, 0, false),
    col("link", 12, 0, false),
    col("VRRP", 14, 3, false),
    col("BGP", 10, 0, false),
    col("announces", 30, 0, false),
    col("active", 8, 2, true),
    col("conn/s", 8, 0, true),
    col("share", 6, 1, true),
];
const FLEX: usize = 4;

/// Lines the strip takes: none for one director, else a heading and a line each.
pub fn rows(directors: usize) -> u16 {
    if directors > 1 {
        directors as u16 + 1
    } else {
        0
    }
}

pub fn render(buf: &mut Buffer, area: Rect, rows: &[ClusterRow], theme: &Theme) {
    if area.height < 2 || rows.is_empty() {
        return;
    }
    let t = Table::new(
        &COLS,
        area.x + 1,
        area.width.saturating_sub(1),
        FLEX,
        u16::MAX,
        &[],
    );
    t.head(buf, area.y, &COLS, theme);
    let mut s = String::with_capacity(32);
    for (k, r) in rows.iter().take(area.height as usize - 1).enumerate() {
        let y = area.y + 1 + k as u16;
        s.clear();
        s.push_str(if r.shown { "▶ " } else { "  " });
        s.push_str(&r.name);
        let name_style = if r.shown { theme.title } else { theme.base };
        t.cell(buf, 0, y, false, &s, name_style);
        let link_style = if r.lost { theme.lost } else { theme.dim };
        t.cell(buf, 1, y, false, &r.link, link_style);
        let state_style = r.vrrp_state.map_or(theme.init, |s| theme.vrrp_state(s));
        t.cell(buf, 2, y, false, &r.vrrp, state_style);
        let bgp_style = if r.bgp_ok { theme.up } else { theme.down };
        t.cell(buf, 3, y, false, &r.bgp, bgp_style);
        let announce_style = if r.announces.starts_with("announces") {
            theme.base
        } else {
            theme.warn
        };
        t.cell(buf, 4, y, false, &r.announces, announce_style);
        s.clear();
        let _ = write!(s, "{}", r.active_conns);
        t.cell(buf, 5, y, true, &s, theme.base);
        s.clear();
        let _ = write!(s, "{:.1}", r.cps);
        t.cell(buf, 6, y, true, &s, theme.base);
        s.clear();
        match r.share {
            Some(p) => {
                let _ = write!(s, "{:.0}%", p * 100.0);
            }
            None => s.push('—'),
        }
        t.cell(buf, 7, y, true, &s, theme.dim);
    }
}
