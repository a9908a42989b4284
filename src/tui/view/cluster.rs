//! The cluster strip under the header, when the console follows several directors: one line
//! each (▶ marks the one the panes show; `>` switches), with its link, VRRP, BGP, what it
//! announces and its share of the cluster's new connections.

use std::fmt::Write;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::{Col, cell, col, fit, headings, xs};
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
    let w = fit(&COLS, area.width.saturating_sub(1), FLEX, u16::MAX);
    let x = xs(area.x + 1, &w);
    headings(buf, area.y, &COLS, &w, &x, theme);
    let mut s = String::with_capacity(32);
    for (k, r) in rows.iter().take(area.height as usize - 1).enumerate() {
        let y = area.y + 1 + k as u16;
        s.clear();
        s.push_str(if r.shown { "▶ " } else { "  " });
        s.push_str(&r.name);
        let name_style = if r.shown { theme.title } else { theme.base };
        cell(buf, x[0], y, w[0], false, &s, name_style);
        let link_style = if r.lost { theme.lost } else { theme.dim };
        cell(buf, x[1], y, w[1], false, &r.link, link_style);
        let state_style = r.vrrp_state.map_or(theme.init, |s| theme.vrrp_state(s));
        cell(buf, x[2], y, w[2], false, &r.vrrp, state_style);
        let bgp_style = if r.bgp_ok { theme.up } else { theme.down };
        cell(buf, x[3], y, w[3], false, &r.bgp, bgp_style);
        let announce_style = if r.announces.starts_with("announces") {
            theme.base
        } else {
            theme.warn
        };
        cell(buf, x[4], y, w[4], false, &r.announces, announce_style);
        s.clear();
        let _ = write!(s, "{}", r.active_conns);
        cell(buf, x[5], y, w[5], true, &s, theme.base);
        s.clear();
        let _ = write!(s, "{:.1}", r.cps);
        cell(buf, x[6], y, w[6], true, &s, theme.base);
        s.clear();
        match r.share {
            Some(p) => {
                let _ = write!(s, "{:.0}%", p * 100.0);
            }
            None => s.push('—'),
        }
        cell(buf, x[7], y, w[7], true, &s, theme.dim);
    }
}
