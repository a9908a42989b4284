//! The help screen: every action with its keys as bound now, and the fixed keys.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Widget};

use super::{centered, put};
use crate::tui::app::App;
use crate::tui::keymap::Action;
use crate::tui::theme::Theme;

const FIXED: [(&str, &str); 4] = [
    ("ctrl-c", "quit at once"),
    (
        "←/→ tab",
        "in a confirm dialog: choose Cancel or Confirm (it opens on Cancel)",
    ),
    ("enter / esc", "in dialogs and prompts: go on / cancel"),
    (
        ":q  :drain A  :weight A N  :priority VI N  :handover VI  :reload",
        "",
    ),
];

pub fn render(buf: &mut Buffer, screen: Rect, app: &App, scroll: usize, theme: &Theme) {
    let area = centered(
        screen,
        90,
        Action::ALL.len() as u16 + FIXED.len() as u16 + 5,
    );
    Clear.render(area, buf);
    buf.set_style(area, theme.base);
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(theme.focus)
        .title(Line::from(Span::styled(
            " Help — keys (rebind in [console.keys]) ",
            theme.title,
        )));
    let inner = block.inner(area);
    block.render(area, buf);
    let inner = Rect {
        x: inner.x + 1,
        width: inner.width.saturating_sub(2),
        ..inner
    };
    let km = &app.config().keymap;
    let key_w = 16u16.min(inner.width / 3);
    let mut y = inner.y;
    let total = Action::ALL.len() + 1 + FIXED.len();
    let skip = scroll.min(total.saturating_sub(inner.height as usize));
    let mut row = 0usize;
    let mut line = |y: &mut u16, key: &str, what: &str, style_key, style_what, row: &mut usize| {
        if *row >= skip && *y < inner.bottom() {
            put(buf, inner.x, *y, key_w, key, style_key);
            put(
                buf,
                inner.x + key_w + 1,
                *y,
                inner.width.saturating_sub(key_w + 1),
                what,
                style_what,
            );
            *y += 1;
        }
        *row += 1;
    };
    for a in Action::ALL {
        let keys: Vec<String> = km.keys(a).map(|k| k.to_string()).collect();
        let name = format!("{} ({})", a.describe(), a.name());
        let ro = a.dangerous() && app.read_only();
        let (ks, ws) = if ro {
            (theme.key_disabled, theme.key_disabled)
        } else {
            (theme.key, theme.base)
        };
        line(&mut y, &keys.join(" "), &name, ks, ws, &mut row);
    }
    line(&mut y, "", "", theme.base, theme.base, &mut row);
    for (k, what) in FIXED {
        if what.is_empty() {
            line(&mut y, "command line", k, theme.key, theme.base, &mut row);
        } else {
            line(&mut y, k, what, theme.key, theme.base, &mut row);
        }
    }
}
