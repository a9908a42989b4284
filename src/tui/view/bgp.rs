//! The BGP sessions (`[bgp]`), under the VRRP instances (and BFD) in their pane: each session
//! to a router as BIRD reports it, then one line of what this director announces, or why not.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::{Col, Table, col, put};
use crate::snapshot::BgpView;
use crate::tui::theme::Theme;

const COLS: [Col; 5] = [
    col("BGP session", 12, 0, false),
    col("state", 6, 0, false),
    col("router", 24, 2, false),
    col("BGP state, BIRD's last word", 40, 0, false),
    col("since", 12, 1, false),
];
const FLEX: usize = 3;
/// Sessions listed; more are summed up in the pane's title.
const MAX_SESSIONS: usize = 2;

/// Lines the view takes: a heading, the sessions (up to two), the announcements.
pub fn rows(bgp: Option<&BgpView>) -> u16 {
    bgp.map_or(0, |b| 2 + b.sessions.len().min(MAX_SESSIONS) as u16)
}

pub fn render(buf: &mut Buffer, area: Rect, bgp: &BgpView, theme: &Theme) {
    if area.height < 2 {
        return;
    }
    let t = Table::new(&COLS, area.x, area.width, FLEX, u16::MAX, &[]);
    t.head(buf, area.y, &COLS, theme);
    let last = area.y + area.height - 1;
    for (y, s) in (area.y + 1..last).zip(bgp.sessions.iter().take(MAX_SESSIONS)) {
        t.cell(buf, 0, y, false, &s.name, theme.base);
        let style = if s.established { theme.up } else { theme.down };
        t.cell(buf, 1, y, false, &s.state, style);
        let router = format!(
            "{} AS{}{}",
            s.neighbor,
            s.remote_as,
            if s.bfd { " bfd" } else { "" }
        );
        t.cell(buf, 2, y, false, &router, theme.dim);
        t.cell(buf, 3, y, false, &s.info, style);
        t.cell(buf, 4, y, false, &s.since, theme.dim);
    }
    let (text, trouble) = announcements(bgp);
    let style = match trouble {
        Trouble::None => theme.base,
        Trouble::Withdrawn => theme.warn,
        Trouble::Bird => theme.error,
    };
    put(buf, area.x, last, area.width, &text, style);
}

enum Trouble {
    None,
    Withdrawn,
    Bird,
}

/// What is announced and what is not (with why), or what is wrong with BIRD.
fn announcements(bgp: &BgpView) -> (String, Trouble) {
    if let Some(e) = &bgp.error {
        return (format!("BIRD: {e}"), Trouble::Bird);
    }
    let announced: Vec<&str> = bgp
        .routes
        .iter()
        .filter(|r| r.announced)
        .map(|r| r.prefix.as_str())
        .collect();
    let mut text = if let Some(d) = &bgp.drained {
        format!("DRAINED by {}: every address withdrawn", d.by)
    } else if announced.is_empty() {
        "announces nothing".to_string()
    } else {
        format!("announces {}", announced.join(" "))
    };
    for r in bgp
        .routes
        .iter()
        .filter(|r| !r.announced && bgp.drained.is_none())
    {
        text.push_str(&format!(" · {} {}", r.prefix, r.why));
    }
    if bgp.routes.iter().any(|r| !r.in_bird) {
        text.push_str(" · BIRD has not taken the latest change in yet");
    }
    let withdrawn = bgp.routes.iter().any(|r| !r.announced);
    (
        text,
        if withdrawn {
            Trouble::Withdrawn
        } else {
            Trouble::None
        },
    )
}
