//! The console's terminal loop: keys in, frames out, snapshots from the engines — over the
//! control socket (attached) or from engines running in this process (embedded). The engines
//! never depend on the console: a console that crashes restores the terminal and leaves them
//! running (attached), or stops them gracefully (embedded, the header says so).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossterm::event::{self, Event, KeyEventKind};
use tokio::sync::mpsc;

use lvsdeck::control::client::Client;
use lvsdeck::control::protocol::{Command, Request, Response};
use lvsdeck::control::transport::{InProcess, Socket, Transport};
use lvsdeck::engine::snapshot::{Snapshot, now_ms};
use lvsdeck::lab::client::ClientStatus;
use lvsdeck::tui::app::{App, ConnectionState, ConsoleConfig, Effect};
use lvsdeck::tui::theme::Theme;

/// Where snapshots come from.
pub enum Source {
    /// Daemons' control sockets, with a label each (the lab has two directors).
    Attach(Vec<(String, PathBuf)>),
    /// Engines in this process.
    Embedded(InProcess),
}

enum Msg {
    Key(event::KeyEvent),
    Resize,
    /// A newer snapshot of director N is waiting in its `Latest` slot.
    Snapshot(usize),
    Connection(usize, ConnectionState),
    ReadOnly(usize, bool),
}

/// The newest snapshot of each director not yet shown: a console short of CPU takes the
/// newest when it can, never a queue of old ones (a channel of snapshots held a minute of
/// them under load while the daemon's were fresh).
#[derive(Clone, Default)]
struct Latest(Arc<Mutex<Vec<Option<Box<Snapshot>>>>>);

impl Latest {
    fn new(directors: usize) -> Latest {
        Latest(Arc::new(Mutex::new(vec![None; directors])))
    }

    /// Replaces what was waiting; true when nothing was (a notice must then be sent).
    fn put(&self, index: usize, snapshot: Box<Snapshot>) -> bool {
        let mut slots = self.0.lock().unwrap_or_else(|e| e.into_inner());
        slots[index].replace(snapshot).is_none()
    }

    fn take(&self, index: usize) -> Option<Box<Snapshot>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())[index].take()
    }
}

/// Hands a snapshot to the console loop: into its slot, with a notice only when the loop has
/// not yet been told of an earlier one. Err when the console is gone.
async fn deliver(
    latest: &Latest,
    index: usize,
    snapshot: Box<Snapshot>,
    tx: &mpsc::Sender<Msg>,
) -> Result<(), ()> {
    if latest.put(index, snapshot) {
        tx.send(Msg::Snapshot(index)).await.map_err(drop)?;
    }
    Ok(())
}

/// Follow one daemon: subscribe, forward snapshots, reconnect after a loss.
async fn follow(index: usize, path: PathBuf, tx: mpsc::Sender<Msg>, latest: Latest) {
    let mut lost_since: Option<u64> = None;
    loop {
        match Client::connect(&path).await {
            Ok(mut client) => {
                lost_since = None;
                let _ = tx.send(Msg::ReadOnly(index, !client.admin)).await;
                let _ = tx
                    .send(Msg::Connection(
                        index,
                        ConnectionState::Connected { since_ms: now_ms() },
                    ))
                    .await;
                if client.send(&Request::Subscribe).await.is_ok() {
                    loop {
                        match client.recv().await {
                            Ok(Response::Snapshot { snapshot }) => {
                                if deliver(&latest, index, snapshot, &tx).await.is_err() {
                                    return;
                                }
                            }
                            Ok(_) => {}
                            Err(e) => {
                                let since = *lost_since.get_or_insert_with(now_ms);
                                let _ = tx
                                    .send(Msg::Connection(
                                        index,
                                        ConnectionState::Lost {
                                            since_ms: since,
                                            reason: e.to_string(),
                                        },
                                    ))
                                    .await;
                                break;
                            }
                        }
                    }
                }
            }
            Err(e) => {
                let since = *lost_since.get_or_insert_with(now_ms);
                if tx
                    .send(Msg::Connection(
                        index,
                        ConnectionState::Lost {
                            since_ms: since,
                            reason: e.to_string(),
                        },
                    ))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn send_command(source: &Source, current: usize, command: Command) -> Result<String, String> {
    match source {
        Source::Attach(targets) => Socket(targets[current].1.clone()).command(command).await,
        Source::Embedded(engines) => engines.command(command).await,
    }
}

/// Run the console until the user quits. `lab_status` names the lab client's status file.
pub async fn run(
    mut config: ConsoleConfig,
    theme: Theme,
    source: Source,
    lab_status: Option<PathBuf>,
) -> ExitCode {
    let directors = match &source {
        Source::Attach(t) => t.len(),
        Source::Embedded(_) => 1,
    };
    config.directors = directors;
    let mut app = App::new(config);
    let (tx, mut rx) = mpsc::channel::<Msg>(256);
    let latest = Latest::new(directors);
    let mut followers = Vec::new();
    match &source {
        Source::Attach(targets) => {
            for (i, (_, path)) in targets.iter().enumerate() {
                followers.push(tokio::spawn(follow(
                    i,
                    path.clone(),
                    tx.clone(),
                    latest.clone(),
                )));
            }
        }
        Source::Embedded(engines) => {
            app.set_connection(ConnectionState::Embedded);
            // Watch-only where the socket would be: the same rule decides.
            let _ = tx.send(Msg::ReadOnly(0, !engines.admin())).await;
            let handles = engines.handles();
            let mut snapshots = handles.snapshot.clone();
            let (tx, latest) = (tx.clone(), latest.clone());
            let watching = lvsdeck::engine::director::Watching::new(handles);
            followers.push(tokio::spawn(async move {
                let _watching = watching;
                loop {
                    let s = snapshots.borrow_and_update().clone();
                    if deliver(&latest, 0, Box::new((*s).clone()), &tx)
                        .await
                        .is_err()
                        || snapshots.changed().await.is_err()
                    {
                        return;
                    }
                }
            }));
        }
    }
    // Keys on a thread of their own: crossterm's read blocks.
    {
        let tx = tx.clone();
        std::thread::spawn(move || {
            loop {
                match event::read() {
                    Ok(Event::Key(k)) if k.kind != KeyEventKind::Release => {
                        if tx.blocking_send(Msg::Key(k)).is_err() {
                            return;
                        }
                    }
                    Ok(Event::Resize(..)) => {
                        if tx.blocking_send(Msg::Resize).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        });
    }
    let mut terminal = ratatui::init();
    let mut current = 0usize;
    let mut last: Vec<Option<Box<Snapshot>>> = vec![None; directors];
    let mut connection: Vec<ConnectionState> =
        vec![ConnectionState::Connecting { since_ms: now_ms() }; directors];
    let mut read_only: Vec<bool> = vec![false; directors];
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let labels: Vec<String> = match &source {
        Source::Attach(t) => t.iter().map(|(l, _)| l.clone()).collect(),
        Source::Embedded(_) => vec!["embedded".into()],
    };
    // A closed terminal (SIGHUP) or a SIGTERM ends the console like `q`, so the caller still
    // cleans up (the lab tears down its namespaces).
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = signal(SignalKind::hangup()).ok();
    let mut term = signal(SignalKind::terminate()).ok();
    let mut int = signal(SignalKind::interrupt()).ok();
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut quit = false;
    // Draw only when what is shown changed (or its ages did, each tick), and then at most
    // one frame per FRAME_SPACING unless a key asks for one: frames were ~10 a second with
    // two directors streaming, which made a console in the stressed lab guest CPU-bound (it
    // got its fair share and no more, and its view fell 2 s behind a fresh daemon).
    let mut redraw = true;
    let mut next_frame_at = tokio::time::Instant::now();
    while !quit {
        let now = now_ms();
        let frame_due = redraw && tokio::time::Instant::now() >= next_frame_at;
        if frame_due && directors > 1 {
            let list: Vec<(&str, Option<&Snapshot>, &ConnectionState)> = (0..directors)
                .map(|i| (labels[i].as_str(), last[i].as_deref(), &connection[i]))
                .collect();
            app.set_cluster(lvsdeck::tui::cluster::rows(&list, current, now));
        }
        if frame_due {
            next_frame_at = tokio::time::Instant::now() + FRAME_SPACING;
            if let Some(path) = &lab_status {
                app.set_lab_line(
                    ClientStatus::read(path).map(|c| lab_line(&c, &labels[current], now)),
                );
            }
            let _ = terminal.draw(|f| lvsdeck::tui::view::draw(f, &app, &theme, now));
            redraw = false;
        }
        let msg = tokio::select! {
            m = rx.recv() => m,
            _ = tick.tick() => {
                redraw = true;
                continue;
            }
            // A frame held back by the spacing is drawn when it falls due.
            _ = tokio::time::sleep_until(next_frame_at), if redraw => continue,
            _ = async { if let Some(h) = hup.as_mut() { h.recv().await } else { std::future::pending().await } } => break,
            _ = async { if let Some(t) = term.as_mut() { t.recv().await } else { std::future::pending().await } } => break,
            _ = async { if let Some(i) = int.as_mut() { i.recv().await } else { std::future::pending().await } } => break,
        };
        let Some(first) = msg else { break };
        // Take everything already waiting before drawing again: one frame per batch, not
        // per message, so a console short of CPU skips frames instead of falling behind (a
        // backlog of snapshots showed a director as it was seconds before).
        let mut batch = vec![first];
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        for msg in batch {
            redraw |= match &msg {
                Msg::Key(_) | Msg::Resize => {
                    // The operator sees the answer to a key at once.
                    next_frame_at = tokio::time::Instant::now();
                    true
                }
                // The cluster strip shows every director.
                Msg::Snapshot(_) | Msg::Connection(..) if directors > 1 => true,
                Msg::Snapshot(i) | Msg::Connection(i, _) | Msg::ReadOnly(i, _) => *i == current,
            };
            match msg {
                Msg::Key(k) => {
                    for effect in app.handle_key(k, now_ms()) {
                        match effect {
                            Effect::Quit => quit = true,
                            Effect::SwitchDirector => {
                                current = (current + 1) % directors;
                                if let Some(s) = &last[current] {
                                    app.set_snapshot((**s).clone(), now_ms());
                                }
                                app.set_connection(connection[current].clone());
                                app.set_read_only(read_only[current]);
                            }
                            Effect::Send(command) => {
                                // Straight to the app: sending it through our own channel
                                // could wait forever on a full channel only we empty.
                                let result = send_command(&source, current, command).await;
                                app.command_result(result, now_ms());
                            }
                        }
                    }
                }
                Msg::Resize => {}
                Msg::Snapshot(i) => {
                    let Some(s) = latest.take(i) else { continue };
                    if i == current {
                        app.set_snapshot((*s).clone(), now_ms());
                    }
                    last[i] = Some(s);
                }
                Msg::Connection(i, state) => {
                    if i == current {
                        app.set_connection(state.clone());
                    }
                    connection[i] = state;
                }
                Msg::ReadOnly(i, ro) => {
                    read_only[i] = ro;
                    if i == current && ro {
                        app.set_read_only(true);
                    }
                }
            }
        }
    }
    ratatui::restore();
    for f in followers {
        f.abort();
    }
    ExitCode::SUCCESS
}

/// The least time between two frames not asked for by a key: four a second, while the
/// panes' ages and rates change once a second and a snapshot is at most 250 ms apart from
/// the next (`control::server`'s spacing), so the view trails the daemon by at most that.
const FRAME_SPACING: Duration = Duration::from_millis(250);

/// The lab's line: which director is shown and what the client saw.
fn lab_line(c: &ClientStatus, director: &str, now: u64) -> String {
    let per: Vec<String> = c
        .by_server
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let recent_error = match &c.last_error {
        Some(e) if now.saturating_sub(c.last_error_at_ms) < 5000 => format!("  last failure: {e}"),
        _ => String::new(),
    };
    format!(
        "lab: showing {director} (> : other director) | client {}/s: {} ok, {} failed [{}]{recent_error}",
        c.rate,
        c.ok,
        c.failed,
        per.join(", ")
    )
}
