//! lbplay-web: the playground's front end, a Yew app over lbplay-core.
//!
//! `state` is the pure part (State, Action, the URL fragment), tested natively; `scenario` runs the
//! core once per chosen scenario; `view` derives what the panes show; `app` is the root component
//! that wires the reducer, the keyboard, the timer and the URL; `components` are the panes.
//! The crate also builds natively so `cargo test --workspace` runs the state tests; the DOM is only
//! touched from effects and event handlers, which never run outside a browser.

pub mod app;
pub mod components;
pub mod embed;
pub mod fixture;
pub mod fragment;
pub mod i18n;
pub mod measure;
pub mod quick;
pub mod run;
pub mod state;
pub mod view;
