//! The panes and controls: small function components that take plain data and callbacks and never
//! see the reducer.

pub mod controls;
pub mod editor;
pub mod experiment;
pub mod help;
pub mod inspector;
pub mod library;
pub mod manifests;
pub mod request;
pub mod rules;
pub mod share;
pub mod step_list;
pub mod topology;
