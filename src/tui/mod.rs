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

pub mod app;
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
