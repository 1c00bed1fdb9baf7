//! Evaluating rules against a packet. Placeholder while being written.
