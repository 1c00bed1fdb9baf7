//! Tier 3's check on the DOM that headless Chromium rendered (`--dump-dom`): the slice is on the
//! page. Chromium serialises the DOM itself, so attributes are always double-quoted and every
//! non-void element has its closing tag; a small scanner is enough, no HTML parser needed.

/// What the rendered page must show for the ClusterIP slice of issue 2.
pub(crate) fn check_slice(dom: &str) -> Result<String, String> {
    let list = element_with_attribute(dom, r#"data-testid="step-list""#).ok_or(
        r#"no element with data-testid="step-list" in the rendered DOM: the app did not mount, or the step list lost its test id (web/src)"#,
    )?;
    let steps = list.matches(r#"data-testid="step""#).count();
    if steps < 5 {
        return Err(format!(
            r#"the step list holds {steps} elements with data-testid="step"; the slice needs at least 5"#
        ));
    }
    const CHAIN: &str = "KUBE-SVC-CDGGSHYLG3RE2FKL";
    if !dom.contains(CHAIN) {
        return Err(format!("the page does not show the Service chain {CHAIN}"));
    }
    Ok(format!("step list with {steps} steps, {CHAIN} shown"))
}

/// The outer HTML of the first element whose start tag contains `attribute`.
fn element_with_attribute<'a>(dom: &'a str, attribute: &str) -> Option<&'a str> {
    let at = dom.find(attribute)?;
    let start = dom[..at].rfind('<')?;
    let name: String = dom[start + 1..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    if name.is_empty() {
        return None;
    }
    let open_end = start + dom[start..].find('>')? + 1;
    let mut depth = 1usize;
    let mut cursor = open_end;
    while depth > 0 {
        let next = cursor + dom[cursor..].find('<')?;
        let rest = &dom[next + 1..];
        let (closing, rest) = match rest.strip_prefix('/') {
            Some(after) => (true, after),
            None => (false, rest),
        };
        let is_same = rest.len() > name.len()
            && rest[..name.len()].eq_ignore_ascii_case(&name)
            && matches!(rest.as_bytes()[name.len()], b' ' | b'>' | b'/' | b'\n' | b'\t');
        if is_same {
            if closing {
                depth -= 1;
            } else {
                depth += 1;
            }
        }
        cursor = next + 1;
    }
    let close_end = cursor + dom[cursor..].find('>')? + 1;
    Some(&dom[start..close_end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_steps_inside_the_list_only() {
        let step = r#"<li data-testid="step">KUBE-SVC-CDGGSHYLG3RE2FKL</li>"#;
        let dom = format!(
            r#"<html><body><ol data-testid="step-list"><li><ol>{step}</ol></li>{step}{step}{step}{step}</ol>{step}<link rel="x"></body></html>"#
        );
        assert_eq!(check_slice(&dom), Ok("step list with 5 steps, KUBE-SVC-CDGGSHYLG3RE2FKL shown".to_string()));
        let short = format!(r#"<div data-testid="step-list">{step}{step}</div>{step}{step}{step}"#);
        assert!(check_slice(&short).unwrap_err().contains("holds 2"));
        assert!(check_slice("<body></body>").unwrap_err().contains("step-list"));
    }
}
