//! Rendering a `Ruleset` as `iptables-save` prints it. Placeholder while being written.

use crate::trace::RuleAt;

/// One line of rendered output; a rule's line knows which rule it is, for highlighting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub text: String,
    pub rule: Option<RuleAt>,
}
