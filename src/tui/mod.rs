//! The operator's console: ratatui over a pure [`App`].
//!
//! The loop (the lead's) feeds [`App`] snapshots, connection changes, keys and command answers,
//! carries out the [`Effect`]s that come back, and calls [`draw`] after each change. Nothing in
//! here does I/O: the state and the rendering are tested on ratatui's `TestBackend`.
//!
//! - `app`: state and update; dangerous actions go through a confirm dialog that opens on
//!   Cancel, and only Enter on Confirm yields [`Effect::Send`].
//! - `view/`: one file per pane, drawing only the rows in view.
//! - `keymap`: default keys and `[console.keys]` rebinding, clashes refused.
//! - `theme`: flat TOML themes (`themes/*.toml`, embedded as a fallback), `NO_COLOR`.
//!
//! The loop, in outline (the transport and terminal are the caller's):
//!
//! ```text
//! let config = ConsoleConfig { read_only, ..ConsoleConfig::from_console(&cfg.console)? };
//! let theme = Theme::load(cfg.console.theme.as_deref())?;
//! let mut app = App::new(config);
//! app.set_connection(ConnectionState::Connected { since_ms: now_ms() }); // or Embedded
//! loop {
//!     terminal.draw(|f| draw(f, &app, &theme, now_ms()))?;
//!     select! {
//!         snapshot  => app.set_snapshot(snapshot, now_ms()),
//!         hello     => app.set_read_only(!hello.admin),
//!         answer    => app.command_result(done_or_refused, now_ms()),
//!         lost      => app.set_connection(ConnectionState::Lost { since_ms, reason }),
//!         key       => for effect in app.handle_key(key, now_ms()) {
//!             match effect {
//!                 Effect::Send(cmd) => transport.send(cmd),
//!                 Effect::Quit => return,
//!                 Effect::SwitchDirector => { /* lab: show the other director */ }
//!             }
//!         },
//!         tick (1 s) => {} // redraw: ages move on even without snapshots
//!     }
//! }
//! ```

pub mod app;
pub mod cluster;
pub mod fmt;
pub mod keymap;
pub mod theme;
pub mod view;

#[cfg(test)]
mod tests;

pub use app::{App, ConnectionState, ConsoleConfig, Effect, Pane};
pub use keymap::{Action, Key, Keymap, KeymapError};
pub use theme::{Theme, ThemeError};
pub use view::draw;
