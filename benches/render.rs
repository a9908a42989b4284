//! Frame time of the console: one full frame at 160×48 on ratatui's TestBackend with 40,000
//! real servers in the selected service (the selection in the middle, so the window is
//! computed, not just the first rows); and one Prometheus scrape of the same snapshot (its
//! metrics encoded, as `GET /metrics` does).

use criterion::{Criterion, criterion_group, criterion_main};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use lvsdeck::engine::snapshot::Snapshot;
use lvsdeck::tui::{App, ConnectionState, ConsoleConfig, Theme, draw};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const NOW: u64 = 1_800_000_000_000;

fn snapshot(n: usize) -> Snapshot {
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

fn bench(c: &mut Criterion) {
    let theme = Theme::default();
    for n in [4, 40_000] {
        let mut app = App::new(ConsoleConfig::default());
        app.set_connection(ConnectionState::Connected { since_ms: NOW });
        app.set_snapshot(snapshot(n), NOW);
        let key = |c| KeyEvent::new(c, KeyModifiers::NONE);
        app.handle_key(key(KeyCode::Enter), NOW);
        for _ in 0..(n / 2 / 40).max(1) {
            app.handle_key(key(KeyCode::PageDown), NOW);
        }
        let mut term = Terminal::new(TestBackend::new(160, 48)).unwrap();
        term.draw(|f| draw(f, &app, &theme, NOW)).unwrap();
        c.bench_function(&format!("frame 160x48, {n} real servers"), |b| {
            b.iter(|| {
                term.draw(|f| draw(f, &app, &theme, NOW)).unwrap();
            })
        });
    }
    // The cost of a snapshot arriving (counting and re-finding the selection), per snapshot.
    let s = snapshot(40_000);
    let mut app = App::new(ConsoleConfig::default());
    app.set_snapshot(s.clone(), NOW);
    c.bench_function("set_snapshot, 40000 real servers", |b| {
        b.iter_batched(
            || s.clone(),
            |s| app.set_snapshot(s, NOW),
            criterion::BatchSize::LargeInput,
        )
    });
    // A scrape: the metrics of 40,000 real servers, ~20 series each.
    let s = snapshot(40_000);
    let text = lvsdeck::engine::metrics::render(&s, NOW);
    println!(
        "metrics of 40000 real servers: {} series, {:.1} MB",
        text.lines().filter(|l| !l.starts_with('#')).count(),
        text.len() as f64 / 1e6
    );
    c.bench_function("metrics scrape, 40000 real servers", |b| {
        b.iter(|| lvsdeck::engine::metrics::render(&s, NOW))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
