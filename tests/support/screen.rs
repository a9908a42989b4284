//! Terminal screens from tmux: capture a pane with its colours, and render it to PNG
//! (vt100 parses the escape sequences, the cells become SVG, resvg draws it with DejaVu Sans
//! Mono). Used by the console's end-to-end test and by `cargo bench --bench screenshots`.
#![allow(dead_code)]

use std::fmt::Write;
use std::path::Path;
use std::process::Command;

/// `LC_ALL=C.UTF-8` when the environment names no UTF-8 locale (the test guest runs with
/// `LC_ALL=C`): without one tmux would draw the console's box and block characters as `_`.
fn utf8_locale() -> Option<(&'static str, &'static str)> {
    let utf8 = ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .is_some_and(|s| s.to_ascii_lowercase().replace('-', "").contains("utf8"));
    (!utf8).then_some(("LC_ALL", "C.UTF-8"))
}

/// A tmux session running one command, killed on drop.
pub struct Tmux {
    pub session: String,
    pub cols: u16,
    pub rows: u16,
}

impl Tmux {
    pub fn start(session: &str, cols: u16, rows: u16, command: &str) -> Tmux {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", session])
            .output();
        let status = Command::new("tmux")
            .args([
                "new-session",
                "-d",
                "-s",
                session,
                "-x",
                &cols.to_string(),
                "-y",
                &rows.to_string(),
            ])
            .arg(command)
            .env("TERM", "xterm-256color")
            .envs(utf8_locale())
            .status()
            .expect("tmux");
        assert!(status.success(), "tmux new-session failed");
        Tmux {
            session: session.to_string(),
            cols,
            rows,
        }
    }

    /// Send keys as tmux names them ("d", "Enter", "Tab", "C-n", "Right").
    pub fn keys(&self, keys: &[&str]) {
        let mut c = Command::new("tmux");
        c.args(["send-keys", "-t", &self.session]).args(keys);
        c.output().expect("tmux send-keys");
    }

    /// The pane's text, without colours.
    pub fn text(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.session])
            .output()
            .expect("capture");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The pane with its escape sequences (colours, bold), for rendering.
    pub fn ansi(&self) -> Vec<u8> {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-e", "-t", &self.session])
            .output()
            .expect("capture");
        out.stdout
    }

    pub fn alive(&self) -> bool {
        Command::new("tmux")
            .args(["has-session", "-t", &self.session])
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.session])
            .output();
    }
}

/// The xterm palette for the 16 ANSI colours, then the 256-colour cube and greys.
fn palette(i: u8) -> (u8, u8, u8) {
    const BASE: [(u8, u8, u8); 16] = [
        (0x1d, 0x1f, 0x21),
        (0xcc, 0x33, 0x33),
        (0x5f, 0xaf, 0x3f),
        (0xd7, 0xaf, 0x3f),
        (0x4f, 0x7f, 0xcf),
        (0xaf, 0x5f, 0xaf),
        (0x3f, 0xaf, 0xaf),
        (0xc5, 0xc8, 0xc6),
        (0x66, 0x66, 0x66),
        (0xff, 0x55, 0x55),
        (0x87, 0xdf, 0x5f),
        (0xff, 0xdf, 0x5f),
        (0x7f, 0xaf, 0xff),
        (0xdf, 0x87, 0xdf),
        (0x5f, 0xdf, 0xdf),
        (0xff, 0xff, 0xff),
    ];
    match i {
        0..16 => BASE[i as usize],
        16..232 => {
            let n = i - 16;
            let level = |v: u8| if v == 0 { 0 } else { 55 + v * 40 };
            (level(n / 36), level((n / 6) % 6), level(n % 6))
        }
        _ => {
            let g = 8 + (i - 232) * 10;
            (g, g, g)
        }
    }
}

const DEFAULT_FG: (u8, u8, u8) = (0xd0, 0xd0, 0xd0);
const DEFAULT_BG: (u8, u8, u8) = (0x1d, 0x1f, 0x21);

fn rgb(c: vt100::Color, default: (u8, u8, u8)) -> (u8, u8, u8) {
    match c {
        vt100::Color::Default => default,
        vt100::Color::Idx(i) => palette(i),
        vt100::Color::Rgb(r, g, b) => (r, g, b),
    }
}

fn css((r, g, b): (u8, u8, u8)) -> String {
    format!("rgb({r},{g},{b})")
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The screen as SVG: a rectangle per run of background, a text span per run of style.
pub fn svg(ansi: &[u8], cols: u16, rows: u16) -> String {
    let mut parser = vt100::Parser::new(rows, cols, 0);
    // capture-pane ends lines with \n only; the terminal model wants \r\n.
    // The last line's newline would scroll the first line away.
    let ansi = ansi.strip_suffix(b"\n").unwrap_or(ansi);
    let fixed: Vec<u8> = ansi
        .iter()
        .flat_map(|&b| {
            if b == b'\n' {
                vec![b'\r', b'\n']
            } else {
                vec![b]
            }
        })
        .collect();
    parser.process(&fixed);
    let screen = parser.screen();
    let (cw, ch) = (8.4f32, 17.0f32);
    let (w, h) = (cols as f32 * cw + 16.0, rows as f32 * ch + 16.0);
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}'><rect width='100%' height='100%' fill='{}'/>",
        css(DEFAULT_BG)
    );
    for r in 0..rows {
        let y = 8.0 + r as f32 * ch;
        let mut c = 0;
        while c < cols {
            let Some(cell) = screen.cell(r, c) else { break };
            let (mut fg, mut bg) = (
                rgb(cell.fgcolor(), DEFAULT_FG),
                rgb(cell.bgcolor(), DEFAULT_BG),
            );
            if cell.inverse() {
                std::mem::swap(&mut fg, &mut bg);
            }
            let bold = cell.bold();
            // Extend the run while the style stays the same.
            let start = c;
            let mut text = String::new();
            while c < cols {
                let Some(cell) = screen.cell(r, c) else { break };
                let (mut f2, mut b2) = (
                    rgb(cell.fgcolor(), DEFAULT_FG),
                    rgb(cell.bgcolor(), DEFAULT_BG),
                );
                if cell.inverse() {
                    std::mem::swap(&mut f2, &mut b2);
                }
                if (f2, b2, cell.bold()) != (fg, bg, bold) {
                    break;
                }
                let s = cell.contents();
                text.push_str(if s.is_empty() { " " } else { &s });
                c += 1;
            }
            let x = 8.0 + start as f32 * cw;
            let width = (c - start) as f32 * cw;
            if bg != DEFAULT_BG {
                let _ = write!(
                    out,
                    "<rect x='{x}' y='{y}' width='{width}' height='{ch}' fill='{}'/>",
                    css(bg)
                );
            }
            if !text.trim().is_empty() {
                let weight = if bold { "bold" } else { "normal" };
                let _ = write!(
                    out,
                    "<text x='{x}' y='{}' font-family='DejaVu Sans Mono' font-size='14' font-weight='{weight}' fill='{}' textLength='{width}' lengthAdjust='spacingAndGlyphs' xml:space='preserve'>{}</text>",
                    y + 13.0,
                    css(fg),
                    esc(&text)
                );
            }
        }
    }
    out.push_str("</svg>");
    out
}

/// Render the screen to a PNG file.
pub fn png(ansi: &[u8], cols: u16, rows: u16, path: &Path) {
    let svg = svg(ansi, cols, rows);
    let mut opt = resvg::usvg::Options::default();
    opt.fontdb_mut()
        .load_fonts_dir("/usr/share/fonts/truetype/dejavu");
    opt.font_family = "DejaVu Sans Mono".into();
    let tree = resvg::usvg::Tree::from_str(&svg, &opt).expect("valid SVG");
    let size = tree.size().to_int_size();
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height()).expect("pixmap");
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::default(),
        &mut pixmap.as_mut(),
    );
    pixmap.save_png(path).expect("write PNG");
}
