//! The help screen: every action with its keys as bound now (and its name for
//! `[console.keys]` when there is room), then the fixed keys and the command line.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Widget};

use super::{centered, put};
use crate::tui::app::App;
use crate::tui::keymap::Action;
use crate::tui::theme::Theme;

const FIXED: [(&str, &str); 7] = [
    ("ctrl-c", "quit at once"),
    (
        "←/→ tab",
        "confirm dialogs: choose Cancel / Confirm (they open on Cancel)",
    ),
    ("enter / esc", "dialogs and prompts: go on / cancel"),
    (":drain A:P", "drain a real server; :undrain A:P"),
    (":weight A:P N", "set a weight (N or clear)"),
    (
        ":priority VI N",
        "override a priority (N or clear); :handover VI",
    ),
    (":reload  :q", "reload the configuration; quit"),
];

/// How many lines the help has.
pub fn lines() -> usize {
    Action::ALL.len() + 1 + FIXED.len()
}

pub fn render(buf: &mut Buffer, screen: Rect, app: &App, scroll: usize, theme: &Theme) {
    let area = centered(screen, 100, lines() as u16 + 2);
    Clear.render(area, buf);
    buf.set_style(area, theme.base);
    let inner_h = area.height.saturating_sub(2) as usize;
    let skip = scroll.min(lines().saturating_sub(inner_h));
    let mut block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(theme.focus)
        .title(Line::from(Span::styled(" Help — keys ", theme.title)));
    if lines() > inner_h {
        let more = if skip + inner_h < lines() {
            " ↓ more · esc closes "
        } else {
            " ↑ back · esc closes "
        };
        block = block.title_bottom(Line::from(Span::styled(more, theme.warn)).right_aligned());
    }
    let inner = super::framed(buf, area, block);
    let km = &app.config().keymap;
    let key_w = 16u16.min(inner.width / 3);
    let name_w = if inner.width >= 90 { 16 } else { 0 };
    let what_w = inner.width.saturating_sub(key_w + 1 + name_w);
    let mut y = inner.y;
    let mut row = 0usize;
    let mut line = |y: &mut u16, key: &str, what: &str, name: &str, ro: bool| {
        if row >= skip && *y < inner.bottom() {
            let (ks, ws) = if ro {
                (theme.key_disabled, theme.key_disabled)
            } else {
                (theme.key, theme.base)
            };
            put(buf, inner.x, *y, key_w, key, ks);
            put(buf, inner.x + key_w + 1, *y, what_w, what, ws);
            if name_w > 0 {
                put(buf, inner.right() - name_w, *y, name_w, name, theme.dim);
            }
            *y += 1;
        }
        row += 1;
    };
    for a in Action::ALL {
        let keys: Vec<String> = km.keys(a).map(|k| k.to_string()).collect();
        let ro = a.dangerous() && app.read_only();
        line(&mut y, &keys.join(" "), a.describe(), a.name(), ro);
    }
    line(&mut y, "", "", "", false);
    for (k, what) in FIXED {
        line(&mut y, k, what, "", false);
    }
}
