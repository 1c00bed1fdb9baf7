//! Go's `text/tabwriter`, as kubectl prints through it: cells end at a tab, and a column is
//! aligned over each block of consecutive lines that have a cell in it.
//!
//! This is the algorithm of src/text/tabwriter/tabwriter.go (Go 1.22, `Writer.format`) without
//! its flags: the text after a line's last tab is not a cell and is never padded; a cell's width
//! is its character count plus `padding`, at least `minwidth`; padding is spaces. kubectl's
//! tables use minwidth 6 and padding 3 (k8s.io/cli-runtime/pkg/printers/tabwriter.go), its
//! `describe` output minwidth 0 and padding 2 (k8s.io/kubectl/pkg/describe, `tabbedString`).

/// Aligns `text` as a tabwriter with these settings would.
pub fn align(text: &str, minwidth: usize, padding: usize) -> String {
    let lines: Vec<Vec<&str>> =
        text.split_inclusive('\n').map(|line| line.trim_end_matches('\n').split('\t').collect()).collect();
    let ends: Vec<bool> = text.split_inclusive('\n').map(|line| line.ends_with('\n')).collect();
    let mut widths = Vec::new();
    let mut out = String::new();
    format(&lines, &mut widths, 0, lines.len(), minwidth, padding, &mut out, &ends);
    out
}

#[allow(clippy::too_many_arguments)]
fn format(
    lines: &[Vec<&str>],
    widths: &mut Vec<usize>,
    mut line0: usize,
    line1: usize,
    minwidth: usize,
    padding: usize,
    out: &mut String,
    ends: &[bool],
) {
    let column = widths.len();
    let mut this = line0;
    while this < line1 {
        if column + 1 >= lines[this].len() {
            this += 1;
            continue;
        }
        // A cell in this column: the lines before it are printed with the widths known so far.
        write_lines(lines, widths, line0, this, out, ends);
        line0 = this;
        let mut width = minwidth;
        while this < line1 && column + 1 < lines[this].len() {
            width = width.max(lines[this][column].chars().count() + padding);
            this += 1;
        }
        widths.push(width);
        format(lines, widths, line0, this, minwidth, padding, out, ends);
        widths.pop();
        line0 = this;
    }
    write_lines(lines, widths, line0, line1, out, ends);
}

fn write_lines(lines: &[Vec<&str>], widths: &[usize], from: usize, to: usize, out: &mut String, ends: &[bool]) {
    for (index, cells) in lines.iter().enumerate().take(to).skip(from) {
        for (j, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if j + 1 < cells.len()
                && let Some(width) = widths.get(j)
            {
                out.extend(std::iter::repeat_n(' ', width.saturating_sub(cell.chars().count())));
            }
        }
        if ends[index] {
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    fn check(text: &str, minwidth: usize, padding: usize, expect: Expect) {
        expect.assert_eq(&super::align(text, minwidth, padding).replace(' ', "·"));
    }

    #[test]
    fn columns_align_over_blocks_of_lines() {
        check(
            "NAME\tCLASS\tAGE\nweb\tnginx\t<unknown>\n",
            6,
            3,
            expect![[r#"
                NAME···CLASS···AGE
                web····nginx···<unknown>
            "#]],
        );
        // "Rules:" has no tab and ends the first column's block; a line with one cell less ends
        // the second's.
        check(
            "Name:\ttest\nDefault backend:\t<default>\nRules:\n  Host\tPath\tBackends\n  ----\t----\t--------\n  foo.bar.com\t\n    \t/foo \ts1:80\n",
            0,
            2,
            expect![[r#"
                Name:·············test
                Default·backend:··<default>
                Rules:
                ··Host·········Path··Backends
                ··----·········----··--------
                ··foo.bar.com··
                ···············/foo···s1:80
            "#]],
        );
    }
}
