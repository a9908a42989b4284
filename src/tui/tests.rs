//! Console tests: the real [`App`] driven by key events, and insta snapshots of every pane and
//! dialog (text and styles) rendered on ratatui's `TestBackend` at 80×24 and 160×48.

use std::fmt::Write;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier, Style};

use crate::control::protocol::{Command, RealTarget};
use crate::snapshot::{
    CheckResult, EventKind, EventView, MasterHeard, Override, RealHealth, Snapshot, Transition,
    VrrpState,
};
use crate::tui::app::{App, ConnectionState, ConsoleConfig, Dialog, Effect, Pane, StatusKind};
use crate::tui::theme::Theme;
use crate::tui::view::draw;

const NOW: u64 = 1_800_000_000_000;

// ---------------------------------------------------------------------------------------------
// Helpers.

fn ch(c: char) -> KeyEvent {
    let mods = if c.is_ascii_uppercase() {
        KeyModifiers::SHIFT
    } else {
        KeyModifiers::NONE
    };
    KeyEvent::new(KeyCode::Char(c), mods)
}

fn code(c: KeyCode) -> KeyEvent {
    let mods = if c == KeyCode::BackTab {
        KeyModifiers::SHIFT
    } else {
        KeyModifiers::NONE
    };
    KeyEvent::new(c, mods)
}

/// Presses keys one by one, collecting every effect.
fn press(app: &mut App, keys: &[KeyEvent]) -> Vec<Effect> {
    keys.iter().flat_map(|k| app.handle_key(*k, NOW)).collect()
}

/// Presses keys, then moves to Confirm and presses Enter.
fn confirmed(app: &mut App, keys: &[KeyEvent]) -> Vec<Effect> {
    let mut all = keys.to_vec();
    all.extend([code(KeyCode::Right), code(KeyCode::Enter)]);
    press(app, &all)
}

fn typed(app: &mut App, text: &str) -> Vec<Effect> {
    let keys: Vec<KeyEvent> = text.chars().map(ch).collect();
    press(app, &keys)
}

fn app_with(snapshot: Snapshot, config: ConsoleConfig) -> App {
    let mut app = App::new(config);
    app.set_connection(ConnectionState::Connected {
        since_ms: NOW - 60_000,
    });
    app.set_snapshot(snapshot, NOW);
    app
}

fn sample_app() -> App {
    app_with(Snapshot::sample(NOW), ConsoleConfig::default())
}

fn render_buf(app: &App, theme: &Theme, w: u16, h: u16, now: u64) -> Buffer {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| draw(f, app, theme, now)).unwrap();
    term.backend().buffer().clone()
}

/// The first line of `text` holding `needle`.
fn line_with(text: &str, needle: &str) -> String {
    text.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle}:\n{text}"))
        .to_string()
}

fn text_of(buf: &Buffer) -> String {
    let a = buf.area;
    let mut out = String::new();
    for y in 0..a.height {
        let mut line = String::new();
        for x in 0..a.width {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn colour(c: Color) -> String {
    match c {
        Color::Rgb(r, g, b) => format!("#{r:02x}{g:02x}{b:02x}"),
        Color::Indexed(i) => format!("i{i}"),
        c => format!("{c:?}"),
    }
}

fn style_text(s: Style) -> String {
    let mut t = String::new();
    if let Some(fg) = s.fg.filter(|c| *c != Color::Reset) {
        let _ = write!(t, "fg={} ", colour(fg));
    }
    if let Some(bg) = s.bg.filter(|c| *c != Color::Reset) {
        let _ = write!(t, "bg={} ", colour(bg));
    }
    for (name, m) in [
        ("bold", Modifier::BOLD),
        ("dim", Modifier::DIM),
        ("italic", Modifier::ITALIC),
        ("reverse", Modifier::REVERSED),
        ("crossed", Modifier::CROSSED_OUT),
        ("underline", Modifier::UNDERLINED),
    ] {
        if s.add_modifier.contains(m) {
            let _ = write!(t, "+{name} ");
        }
    }
    t.trim_end().to_string()
}

/// The screen as text, then for each line the runs of cells whose style is not the default
/// (`x0-x1 style`), so a snapshot pins colours as well as words.
fn dump(buf: &Buffer) -> String {
    let mut out = text_of(buf);
    out.push_str("--- styles (line: columns style) ---\n");
    let a = buf.area;
    for y in 0..a.height {
        let mut runs: Vec<(u16, u16, String)> = Vec::new();
        for x in 0..a.width {
            let st = style_text(buf[(x, y)].style());
            match runs.last_mut() {
                Some((_, end, s)) if *s == st && *end + 1 == x => *end = x,
                _ => runs.push((x, x, st)),
            }
        }
        let runs: Vec<String> = runs
            .into_iter()
            .filter(|(_, _, s)| !s.is_empty())
            .map(|(a, b, s)| format!("{a}-{b} {s}"))
            .collect();
        if !runs.is_empty() {
            let _ = writeln!(out, "{y:2}: {}", runs.join("; "));
        }
    }
    out
}

/// Snapshots a screen at both sizes.
fn snap_both(name: &str, app: &App, theme: &Theme, now: u64) {
    for (w, h) in [(80, 24), (160, 48)] {
        let buf = render_buf(app, theme, w, h, now);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), dump(&buf));
    }
}

fn dark() -> Theme {
    Theme::builtin("dark").unwrap().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Variants of the sample snapshot.

fn backup() -> Snapshot {
    let mut s = Snapshot::sample(NOW);
    s.host.hostname = "lvs-backup".into();
    s.host.router_id = Some("LVS_BACKUP".into());
    let v = &mut s.vrrp[0];
    v.state = VrrpState::Backup;
    v.base_priority = 90;
    v.effective_priority = 90;
    v.holds_vips = false;
    v.master_heard = Some(MasterHeard {
        address: "192.168.10.11".into(),
        priority: 100,
        at_ms: NOW - 700,
    });
    v.adverts_in = 10_480;
    v.adverts_out = 35;
    v.last_transition = Some(Transition {
        from: VrrpState::Master,
        to: VrrpState::Backup,
        reason: "higher priority advert (100) from 192.168.10.11".into(),
        at_ms: NOW - 2 * 3600 * 1000,
    });
    s
}

fn fault() -> Snapshot {
    let mut s = Snapshot::sample(NOW);
    let v = &mut s.vrrp[0];
    v.state = VrrpState::Fault;
    v.holds_vips = false;
    v.effective_priority = 0;
    v.last_transition = Some(Transition {
        from: VrrpState::Master,
        to: VrrpState::Fault,
        reason: "interface ens33 is down".into(),
        at_ms: NOW - 4000,
    });
    s.events.push(EventView {
        at_ms: NOW - 4000,
        kind: EventKind::Vrrp,
        subject: "VI_1".into(),
        message: "MASTER -> FAULT: interface ens33 is down".into(),
    });
    s
}

fn real_down() -> Snapshot {
    let mut s = Snapshot::sample(NOW);
    let r = &mut s.ipvs.services[0].reals[1];
    r.health = RealHealth::Down;
    r.in_table = false;
    r.weight = 0;
    r.active_conns = 0;
    r.inactive_conns = 0;
    r.cps = 0.0;
    r.last_check = Some(CheckResult {
        ok: false,
        at_ms: NOW - 1200,
        latency_ms: 3000.0,
        message: "timeout after 3s".into(),
    });
    s.events.push(EventView {
        at_ms: NOW - 9000,
        kind: EventKind::Health,
        subject: "TCP 192.168.10.100:80 -> 192.168.10.73:80".into(),
        message: "down: timeout after 3s (3 failures)".into(),
    });
    s
}

fn draining() -> Snapshot {
    let mut s = Snapshot::sample(NOW);
    let svc = &mut s.ipvs.services[0];
    let mut third = svc.reals[1].clone();
    third.address = "192.168.10.74".into();
    svc.reals.push(third);
    fn op<T>(value: T) -> Override<T> {
        Override {
            value,
            by: "alice".into(),
            at_ms: NOW - 30_000,
        }
    }
    let r = &mut svc.reals[0];
    r.drain = Some(op(()));
    r.weight = 0;
    r.active_conns = 37;
    r.cps = 0.0;
    let r = &mut svc.reals[1];
    r.weight_override = Some(op(5));
    r.weight = 5;
    let r = &mut svc.reals[2];
    r.drain = Some(op(()));
    r.weight = 0;
    r.active_conns = 0;
    r.cps = 0.0;
    s.events.push(EventView {
        at_ms: NOW - 30_000,
        kind: EventKind::Operator,
        subject: "TCP 192.168.10.100:80 -> 192.168.10.72:80".into(),
        message: "alice: drain".into(),
    });
    s
}

fn no_ipvs() -> Snapshot {
    let mut s = Snapshot::sample(NOW);
    s.ipvs.available = false;
    s.ipvs.services.clear();
    s.ipvs.error = Some(
        "the kernel has no IPVS (generic netlink family IPVS not found): load it with \
         `modprobe ip_vs` (package linux-modules-extra on some distributions), then restart \
         lvsdeck"
            .into(),
    );
    s
}

fn two_instances() -> Snapshot {
    let mut s = Snapshot::sample(NOW);
    let mut v2 = s.vrrp[0].clone();
    v2.name = "VI_2".into();
    v2.vrid = 52;
    v2.state = VrrpState::Backup;
    v2.holds_vips = false;
    v2.vips = vec!["192.168.10.101/24".into(), "192.168.10.102/24".into()];
    v2.base_priority = 100;
    v2.effective_priority = 50;
    v2.priority_override = Some(Override {
        value: 50,
        by: "bob".into(),
        at_ms: NOW - 600_000,
    });
    v2.master_heard = Some(MasterHeard {
        address: "192.168.10.12".into(),
        priority: 90,
        at_ms: NOW - 500,
    });
    s.vrrp.push(v2);
    s
}

/// A snapshot with `n` real servers in its one service.
pub(crate) fn many_reals(n: usize) -> Snapshot {
    let mut s = Snapshot::sample(NOW);
    let proto = s.ipvs.services[0].reals[0].clone();
    s.ipvs.services[0].reals = (0..n)
        .map(|i| {
            let mut r = proto.clone();
            r.address = format!("10.{}.{}.{}", i / 65_536, (i / 256) % 256, i % 256);
            r
        })
        .collect();
    s
}

// ---------------------------------------------------------------------------------------------
// End to end: the real app driven by keys.

#[test]
fn drain_goes_through_a_confirm_dialog_that_opens_on_cancel() {
    let mut app = sample_app();
    assert_eq!(app.focus(), Pane::Services);
    // Select the service (the first), show its real servers, select the second.
    assert!(press(&mut app, &[code(KeyCode::Enter), ch('j')]).is_empty());
    assert_eq!(app.focus(), Pane::Reals);
    assert_eq!(app.selected_real().unwrap().1.address, "192.168.10.73");

    // d: a dialog naming the exact target, on Cancel; Enter there does nothing.
    assert!(press(&mut app, &[ch('d')]).is_empty());
    let Some(Dialog::Confirm(c)) = app.dialog() else {
        panic!("no confirm dialog: {:?}", app.dialog())
    };
    assert!(!c.on_confirm, "the dialog must open on Cancel");
    let text: String = c.lines.iter().map(|(l, v)| format!("{l}: {v}\n")).collect();
    assert!(text.contains("service: TCP  192.168.10.100:80"), "{text}");
    assert!(text.contains("real server: 192.168.10.73:80"), "{text}");
    assert!(text.contains("weight 1 → 0"), "{text}");
    let screen = text_of(&render_buf(&app, &dark(), 80, 24, NOW));
    assert!(screen.contains("[ Cancel ]"), "{screen}");
    assert!(press(&mut app, &[code(KeyCode::Enter)]).is_empty());
    assert!(app.dialog().is_none());

    // Reopen, move to Confirm, Enter: exactly one Drain of that real server.
    let effects = confirmed(&mut app, &[ch('d')]);
    assert_eq!(
        effects,
        vec![Effect::Send(Command::Drain {
            target: RealTarget {
                service: "TCP  192.168.10.100:80".into(),
                real: "192.168.10.73:80".into(),
            }
        })]
    );
    assert!(app.dialog().is_none());
    assert_eq!(app.status().unwrap().kind, StatusKind::Pending);

    // The engines' answer lands in the status line.
    app.command_result(Ok("drained 192.168.10.73:80".into()), NOW);
    let screen = text_of(&render_buf(&app, &dark(), 80, 24, NOW));
    assert!(screen.contains("✓ drained 192.168.10.73:80"), "{screen}");
    app.command_result(Err("not an admin".into()), NOW);
    assert_eq!(app.status().unwrap().text, "refused: not an admin");
}

#[test]
fn esc_and_cancel_never_send() {
    let mut app = sample_app();
    let keys = [
        code(KeyCode::Enter),
        ch('d'),
        code(KeyCode::Right),
        code(KeyCode::Esc),
        ch('d'),
        code(KeyCode::Right),
        code(KeyCode::Left),
        code(KeyCode::Enter),
        ch('+'),
        code(KeyCode::Esc),
    ];
    assert!(press(&mut app, &keys).is_empty());
    assert!(app.dialog().is_none());
}

#[test]
fn handover_on_the_vrrp_pane() {
    let mut app = sample_app();
    // h elsewhere is refused with a pointer to the right pane.
    assert!(press(&mut app, &[ch('h')]).is_empty());
    assert!(app.dialog().is_none());
    assert!(app.status().unwrap().text.contains("VRRP pane"));

    assert!(press(&mut app, &[code(KeyCode::BackTab), ch('h')]).is_empty());
    assert_eq!(app.focus(), Pane::Vrrp);
    let Some(Dialog::Confirm(c)) = app.dialog() else {
        panic!("no dialog")
    };
    assert!(!c.on_confirm);
    assert!(
        c.lines
            .iter()
            .any(|(_, v)| v.contains("VI_1 (ens33 vrid 51)"))
    );
    assert!(press(&mut app, &[code(KeyCode::Enter)]).is_empty());
    let effects = press(
        &mut app,
        &[ch('h'), code(KeyCode::Tab), code(KeyCode::Enter)],
    );
    assert_eq!(
        effects,
        vec![Effect::Send(Command::Handover {
            instance: "VI_1".into()
        })]
    );

    // A BACKUP cannot hand over: refused here, no dialog.
    let mut app = app_with(backup(), ConsoleConfig::default());
    assert!(press(&mut app, &[code(KeyCode::BackTab), ch('h')]).is_empty());
    assert!(app.dialog().is_none());
    assert!(
        app.status()
            .unwrap()
            .text
            .contains("VI_1 is BACKUP here; only a MASTER can hand over")
    );
}

#[test]
fn read_only_refuses_with_a_message_and_greys_the_keys() {
    let mut app = app_with(
        Snapshot::sample(NOW),
        ConsoleConfig {
            read_only: true,
            ..ConsoleConfig::default()
        },
    );
    for k in ['d', 'u', '+', '-', 'w'] {
        assert!(press(&mut app, &[code(KeyCode::Enter), ch(k)]).is_empty());
        assert!(app.dialog().is_none(), "{k} opened a dialog");
        let s = app.status().unwrap();
        assert_eq!(s.kind, StatusKind::Refused);
        assert!(s.text.starts_with("read-only:"), "{}", s.text);
    }
    assert!(typed(&mut app, ":drain 192.168.10.72:80").is_empty());
    assert!(press(&mut app, &[code(KeyCode::Enter)]).is_empty());
    assert!(app.dialog().is_none());
    assert!(app.status().unwrap().text.contains("read-only"));

    let theme = dark();
    let buf = render_buf(&app, &theme, 160, 48, NOW);
    let screen = text_of(&buf);
    assert!(screen.lines().next().unwrap().ends_with(" RO"), "{screen}");
    assert_eq!(buf[(157, 0)].style().bg, theme.badge.bg);
    // The drain key in the key bar is greyed.
    let bar = 46;
    let line: String = (0..160)
        .map(|x| buf[(x, bar)].symbol().to_string())
        .collect();
    let at = line.find(" d drain").expect("drain in the key bar") as u16 + 1;
    assert_eq!(buf[(at, bar)].style().fg, theme.key_disabled.fg);

    // The daemon's hello can make a console read-only later, too.
    let mut app = sample_app();
    app.set_read_only(true);
    assert!(press(&mut app, &[code(KeyCode::Enter), ch('d')]).is_empty());
    assert!(app.dialog().is_none());
}

#[test]
fn weight_keys_and_the_weight_dialog() {
    let mut app = sample_app();
    let e = confirmed(&mut app, &[code(KeyCode::Enter), ch('+')]);
    let target = RealTarget {
        service: "TCP  192.168.10.100:80".into(),
        real: "192.168.10.72:80".into(),
    };
    assert_eq!(
        e,
        vec![Effect::Send(Command::Weight {
            target: target.clone(),
            weight: Some(2)
        })]
    );

    // w: type a bad value, see the error, fix it, confirm.
    assert!(press(&mut app, &[ch('w')]).is_empty());
    typed(&mut app, "x");
    press(&mut app, &[code(KeyCode::Enter)]);
    let Some(Dialog::Input(i)) = app.dialog() else {
        panic!("no input dialog")
    };
    assert!(
        i.error
            .as_deref()
            .unwrap()
            .contains("\"x\" is not a weight")
    );
    press(&mut app, &[code(KeyCode::Backspace)]);
    typed(&mut app, "7");
    press(&mut app, &[code(KeyCode::Enter)]);
    let Some(Dialog::Confirm(c)) = app.dialog() else {
        panic!("no confirm")
    };
    assert!(c.lines.iter().any(|(_, v)| v.contains("weight 1 → 7")));
    let e = confirmed(&mut app, &[]);
    assert_eq!(
        e,
        vec![Effect::Send(Command::Weight {
            target: target.clone(),
            weight: Some(7)
        })]
    );

    // Empty clears the override.
    let e = confirmed(&mut app, &[ch('w'), code(KeyCode::Enter)]);
    assert_eq!(
        e,
        vec![Effect::Send(Command::Weight {
            target,
            weight: None
        })]
    );

    // A configurable step.
    let mut app = app_with(
        Snapshot::sample(NOW),
        ConsoleConfig {
            weight_step: 5,
            ..ConsoleConfig::default()
        },
    );
    let e = confirmed(&mut app, &[code(KeyCode::Enter), ch('+')]);
    assert!(matches!(
        &e[..],
        [Effect::Send(Command::Weight {
            weight: Some(6),
            ..
        })]
    ));
}

#[test]
fn priority_override_and_clear() {
    let mut app = sample_app();
    press(&mut app, &[code(KeyCode::BackTab), ch('p')]);
    typed(&mut app, "255");
    press(&mut app, &[code(KeyCode::Enter)]);
    assert!(matches!(app.dialog(), Some(Dialog::Input(i)) if i.error.is_some()));
    press(
        &mut app,
        &[code(KeyCode::Backspace), code(KeyCode::Backspace)],
    );
    press(&mut app, &[code(KeyCode::Backspace)]);
    typed(&mut app, "50");
    press(&mut app, &[code(KeyCode::Enter)]);
    let Some(Dialog::Confirm(c)) = app.dialog() else {
        panic!("no confirm")
    };
    assert!(c.lines.iter().any(|(_, v)| v.contains("priority 100 → 50")));
    let e = confirmed(&mut app, &[]);
    assert_eq!(
        e,
        vec![Effect::Send(Command::Priority {
            instance: "VI_1".into(),
            priority: Some(50)
        })]
    );
    let e = confirmed(&mut app, &[ch('p'), code(KeyCode::Enter)]);
    assert_eq!(
        e,
        vec![Effect::Send(Command::Priority {
            instance: "VI_1".into(),
            priority: None
        })]
    );
}

#[test]
fn command_line() {
    let confirm = |app: &mut App| press(app, &[code(KeyCode::Right), code(KeyCode::Enter)]);
    let mut app = sample_app();
    let cases: [(&str, Command); 5] = [
        (
            ":drain 192.168.10.73:80",
            Command::Drain {
                target: RealTarget {
                    service: "TCP  192.168.10.100:80".into(),
                    real: "192.168.10.73:80".into(),
                },
            },
        ),
        (
            ":weight 192.168.10.72:80 5",
            Command::Weight {
                target: RealTarget {
                    service: "TCP  192.168.10.100:80".into(),
                    real: "192.168.10.72:80".into(),
                },
                weight: Some(5),
            },
        ),
        (
            ":priority VI_1 50",
            Command::Priority {
                instance: "VI_1".into(),
                priority: Some(50),
            },
        ),
        (
            ":handover VI_1",
            Command::Handover {
                instance: "VI_1".into(),
            },
        ),
        (":reload", Command::Reload),
    ];
    for (line, cmd) in cases {
        typed(&mut app, line);
        assert!(
            press(&mut app, &[code(KeyCode::Enter)]).is_empty(),
            "{line}"
        );
        assert!(
            matches!(app.dialog(), Some(Dialog::Confirm(c)) if !c.on_confirm),
            "{line}: {:?}",
            app.dialog()
        );
        assert_eq!(confirm(&mut app), vec![Effect::Send(cmd)], "{line}");
    }
    typed(&mut app, ":drain 10.9.9.9:80");
    press(&mut app, &[code(KeyCode::Enter)]);
    assert!(app.dialog().is_none());
    assert!(
        app.status()
            .unwrap()
            .text
            .contains("no real server 10.9.9.9:80 in any service")
    );
    typed(&mut app, ":frobnicate");
    press(&mut app, &[code(KeyCode::Enter)]);
    assert!(app.status().unwrap().text.contains("unknown command"));
    typed(&mut app, ":q");
    assert_eq!(press(&mut app, &[code(KeyCode::Enter)]), vec![Effect::Quit]);
    assert_eq!(press(&mut app, &[ch('q')]), vec![Effect::Quit]);
    assert_eq!(
        press(
            &mut app,
            &[KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)]
        ),
        vec![Effect::Quit]
    );
}

#[test]
fn embedded_quit_is_confirmed() {
    let mut app = sample_app();
    app.set_connection(ConnectionState::Embedded);
    assert!(press(&mut app, &[ch('q')]).is_empty());
    assert!(matches!(app.dialog(), Some(Dialog::Confirm(c)) if !c.on_confirm));
    assert!(press(&mut app, &[code(KeyCode::Enter)]).is_empty());
    assert_eq!(
        press(
            &mut app,
            &[ch('q'), code(KeyCode::Left), code(KeyCode::Enter)]
        ),
        vec![Effect::Quit]
    );
}

#[test]
fn filters_and_selection_follow_rows_across_snapshots() {
    let mut app = app_with(draining(), ConsoleConfig::default());
    press(&mut app, &[code(KeyCode::Enter)]);
    typed(&mut app, "/74");
    assert_eq!(app.visible_len(Pane::Reals), 1);
    press(&mut app, &[code(KeyCode::Enter)]);
    assert_eq!(app.filter(Pane::Reals), "74");
    assert_eq!(app.selected_real().unwrap().1.address, "192.168.10.74");
    // Esc clears the filter, the selection stays on the row.
    press(&mut app, &[code(KeyCode::Esc)]);
    assert_eq!(app.visible_len(Pane::Reals), 3);
    press(&mut app, &[ch('G')]);
    assert_eq!(app.selected_real().unwrap().1.address, "192.168.10.74");
    // A new snapshot with the rows reordered: the selection follows the server.
    let mut s = draining();
    s.ipvs.services[0].reals.reverse();
    app.set_snapshot(s, NOW + 1000);
    assert_eq!(app.selected_real().unwrap().1.address, "192.168.10.74");
    assert_eq!(app.selected(Pane::Reals), 0);
    // Esc again leaves the real servers.
    press(&mut app, &[code(KeyCode::Esc)]);
    assert_eq!(app.focus(), Pane::Services);
}

#[test]
fn forty_thousand_reals_draw_only_the_rows_in_view() {
    let mut app = app_with(many_reals(40_000), ConsoleConfig::default());
    press(&mut app, &[code(KeyCode::Enter), code(KeyCode::End)]);
    let screen = text_of(&render_buf(&app, &dark(), 160, 48, NOW));
    assert!(screen.contains("10.0.156.63:80"), "{screen}"); // the 40,000th
    assert!(screen.contains("40000/40000"), "{screen}");
    press(&mut app, &[code(KeyCode::PageUp), code(KeyCode::Home)]);
    let screen = text_of(&render_buf(&app, &dark(), 160, 48, NOW));
    assert!(screen.contains("10.0.0.0:80"), "{screen}");
    assert!(screen.contains(" 1/40000 "), "{screen}");
}

#[test]
fn tiny_terminals_say_so() {
    let app = sample_app();
    let screen = text_of(&render_buf(&app, &dark(), 50, 10, NOW));
    assert!(screen.contains("too small"), "{screen}");
}

// ---------------------------------------------------------------------------------------------
// Snapshots of every pane and dialog, 80×24 and 160×48.

#[test]
fn snapshot_master() {
    snap_both("master", &sample_app(), &dark(), NOW);
}

#[test]
fn snapshot_master_reals_focused() {
    let mut app = sample_app();
    press(&mut app, &[code(KeyCode::Enter), ch('j')]);
    snap_both("master_reals_focused", &app, &dark(), NOW);
}

#[test]
fn snapshot_backup() {
    snap_both(
        "backup",
        &app_with(backup(), ConsoleConfig::default()),
        &dark(),
        NOW,
    );
}

#[test]
fn snapshot_fault() {
    snap_both(
        "fault",
        &app_with(fault(), ConsoleConfig::default()),
        &dark(),
        NOW,
    );
}

#[test]
fn snapshot_real_down() {
    let mut app = app_with(real_down(), ConsoleConfig::default());
    press(&mut app, &[code(KeyCode::Enter)]);
    snap_both("real_down", &app, &dark(), NOW);
}

#[test]
fn snapshot_draining() {
    let mut app = app_with(draining(), ConsoleConfig::default());
    press(&mut app, &[code(KeyCode::Enter)]);
    snap_both("draining", &app, &dark(), NOW);
}

#[test]
fn snapshot_stale_values() {
    // The daemon is connected but has sent nothing for 12 s: every pane shows its age.
    let app = sample_app();
    snap_both("stale", &app, &dark(), NOW + 12_000);
}

#[test]
fn snapshot_connection_lost() {
    let mut app = sample_app();
    app.set_connection(ConnectionState::Lost {
        since_ms: NOW + 1000,
        reason: "control socket closed".into(),
    });
    snap_both("connection_lost", &app, &dark(), NOW + 6000);
}

#[test]
fn snapshot_connecting() {
    let mut app = App::new(ConsoleConfig::default());
    app.set_connection(ConnectionState::Connecting {
        since_ms: NOW - 2000,
    });
    snap_both("connecting", &app, &dark(), NOW);
}

#[test]
fn snapshot_read_only() {
    let mut app = app_with(
        Snapshot::sample(NOW),
        ConsoleConfig {
            read_only: true,
            ..ConsoleConfig::default()
        },
    );
    press(&mut app, &[code(KeyCode::Enter), ch('d')]);
    snap_both("read_only", &app, &dark(), NOW);
}

#[test]
fn snapshot_ipvs_unavailable() {
    snap_both(
        "no_ipvs",
        &app_with(no_ipvs(), ConsoleConfig::default()),
        &dark(),
        NOW,
    );
}

#[test]
fn snapshot_two_instances_with_override() {
    let mut app = app_with(two_instances(), ConsoleConfig::default());
    press(&mut app, &[code(KeyCode::BackTab), ch('j')]);
    snap_both("two_instances", &app, &dark(), NOW);
}

#[test]
fn snapshot_events_focused_and_filtered() {
    let mut app = app_with(real_down(), ConsoleConfig::default());
    press(&mut app, &[code(KeyCode::Tab), code(KeyCode::Tab)]);
    assert_eq!(app.focus(), Pane::Events);
    typed(&mut app, "/health");
    press(&mut app, &[code(KeyCode::Enter)]);
    snap_both("events_filtered", &app, &dark(), NOW);
}

#[test]
fn snapshot_embedded() {
    let mut app = sample_app();
    app.set_connection(ConnectionState::Embedded);
    snap_both("embedded", &app, &dark(), NOW);
}

#[test]
fn snapshot_no_color() {
    let mut app = app_with(real_down(), ConsoleConfig::default());
    press(&mut app, &[code(KeyCode::Enter)]);
    snap_both("no_color", &app, &Theme::no_color(), NOW);
}

#[test]
fn snapshot_other_themes() {
    let mut app = app_with(draining(), ConsoleConfig::default());
    press(&mut app, &[code(KeyCode::Enter)]);
    for name in ["light", "high-contrast", "solarized"] {
        let theme = Theme::builtin(name).unwrap().unwrap();
        let buf = render_buf(&app, &theme, 160, 48, NOW);
        insta::assert_snapshot!(format!("theme_{name}_160x48"), dump(&buf));
    }
}

#[test]
fn snapshot_dialog_confirm_drain() {
    let mut app = sample_app();
    press(&mut app, &[code(KeyCode::Enter), ch('d')]);
    snap_both("dialog_drain_cancel", &app, &dark(), NOW);
    press(&mut app, &[code(KeyCode::Right)]);
    snap_both("dialog_drain_confirm", &app, &dark(), NOW);
}

#[test]
fn snapshot_dialog_undrain() {
    let mut app = app_with(draining(), ConsoleConfig::default());
    press(&mut app, &[code(KeyCode::Enter), ch('u')]);
    snap_both("dialog_undrain", &app, &dark(), NOW);
}

#[test]
fn snapshot_dialog_handover() {
    let mut app = sample_app();
    press(&mut app, &[code(KeyCode::BackTab), ch('h')]);
    snap_both("dialog_handover", &app, &dark(), NOW);
}

#[test]
fn snapshot_dialog_weight_input() {
    let mut app = sample_app();
    press(&mut app, &[code(KeyCode::Enter), ch('w')]);
    typed(&mut app, "70000");
    press(&mut app, &[code(KeyCode::Enter)]);
    snap_both("dialog_weight_input_error", &app, &dark(), NOW);
}

#[test]
fn snapshot_dialog_priority_input() {
    let mut app = app_with(backup(), ConsoleConfig::default());
    press(&mut app, &[code(KeyCode::BackTab), ch('p')]);
    typed(&mut app, "120");
    snap_both("dialog_priority_input", &app, &dark(), NOW);
    press(&mut app, &[code(KeyCode::Enter)]);
    snap_both("dialog_priority_confirm", &app, &dark(), NOW);
}

#[test]
fn snapshot_help() {
    let mut app = sample_app();
    press(&mut app, &[ch('?')]);
    snap_both("help", &app, &dark(), NOW);
}

#[test]
fn snapshot_command_line_and_filter_prompts() {
    let mut app = sample_app();
    typed(&mut app, ":drain 192.168.10.72:80");
    snap_both("prompt_command", &app, &dark(), NOW);
    press(&mut app, &[code(KeyCode::Esc), code(KeyCode::Enter)]);
    typed(&mut app, "/73");
    snap_both("prompt_filter", &app, &dark(), NOW);
}

#[test]
fn snapshot_refused_status() {
    let mut app = sample_app();
    confirmed(&mut app, &[code(KeyCode::Enter), ch('d')]);
    app.command_result(
        Err("192.168.10.72:80 is the last real server up in TCP  192.168.10.100:80; drain refused (quorum 1)".into()),
        NOW,
    );
    snap_both("status_refused", &app, &dark(), NOW + 6000);
}

#[test]
fn keymap_rebinding_shows_in_the_key_bar_and_works() {
    let mut keys = std::collections::BTreeMap::new();
    keys.insert("drain".to_string(), "ctrl-d".to_string());
    let console = crate::config::model::Console { theme: None, keys };
    let mut app = app_with(
        Snapshot::sample(NOW),
        ConsoleConfig::from_console(&console).unwrap(),
    );
    press(&mut app, &[code(KeyCode::Enter), ch('d')]);
    assert!(app.dialog().is_none());
    press(
        &mut app,
        &[KeyEvent::new(KeyCode::Char('d'), KeyModifiers::CONTROL)],
    );
    assert!(matches!(app.dialog(), Some(Dialog::Confirm(_))));
    press(&mut app, &[code(KeyCode::Esc)]);
    let screen = text_of(&render_buf(&app, &dark(), 160, 48, NOW));
    assert!(screen.contains("ctrl-d drain"), "{screen}");

    let mut keys = std::collections::BTreeMap::new();
    keys.insert("help".to_string(), "q".to_string());
    let console = crate::config::model::Console { theme: None, keys };
    let err = ConsoleConfig::from_console(&console)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "[console.keys]: key \"q\" is bound to both help and quit; bind one of them to another key"
    );
}

#[test]
fn actions_on_a_stale_view_are_refused_as_stale() {
    // A drained server (the first) in a view 5 s old: `u` must neither act on it nor claim
    // anything about its state.
    let at = |app: &mut App, keys: &[KeyEvent], now: u64| -> Vec<Effect> {
        keys.iter().flat_map(|k| app.handle_key(*k, now)).collect()
    };
    let later = NOW + 5_000;
    let mut app = app_with(draining(), ConsoleConfig::default());
    assert!(at(&mut app, &[code(KeyCode::Enter), ch('u')], later).is_empty());
    assert!(app.dialog().is_none(), "no dialog on a stale view");
    let status = app.status().unwrap();
    assert_eq!(status.kind, StatusKind::Refused);
    assert_eq!(
        status.text,
        "undrain: refused — this view is stale (refreshed 5s ago); wait for a fresh one"
    );
    // The `:` line too, except `reload`, which does not act on what is shown.
    let line = |text: &str| -> Vec<KeyEvent> {
        let mut keys = vec![ch(':')];
        keys.extend(text.chars().map(ch));
        keys.push(code(KeyCode::Enter));
        keys
    };
    assert!(at(&mut app, &line("handover VI_1"), later).is_empty());
    assert!(app.dialog().is_none());
    let text = &app.status().unwrap().text;
    assert!(
        text.starts_with("handover: refused — this view is stale"),
        "{text}"
    );
    at(&mut app, &line("reload"), later);
    assert!(matches!(app.dialog(), Some(Dialog::Confirm(_))));
    // The same key on a fresh view opens its dialog.
    let mut app = app_with(draining(), ConsoleConfig::default());
    assert!(at(&mut app, &[code(KeyCode::Enter), ch('u')], NOW + 1_000).is_empty());
    assert!(matches!(app.dialog(), Some(Dialog::Confirm(_))));
}

mod bfd;
mod bgp;
mod doctor;
mod panes;
