//! Conntrack: placeholder while being written.
