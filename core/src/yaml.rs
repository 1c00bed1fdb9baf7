//! Marked YAML: placeholder, being written (issue 3).
