//! Tables that render to Markdown (the summaries) and to HTML (the report page) from the same
//! cells, so both show the same numbers; and the HTML and Markdown escaping and link encoding
//! they need.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Escapes text for HTML (element content and quoted attribute values alike): `&`, `<`, `>`,
/// `"` and `'` become character references, and control characters other than tab, line feed
/// and carriage return (not allowed in HTML or XML text) become U+FFFD.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Escapes text from data (a `--title`, a name) for a line of Markdown: it reads as the same
/// characters and neither opens HTML (raw HTML passes through most Markdown viewers) nor changes
/// the line's structure. `<` and `&` become character references (no tag, no entity); `\`,
/// `` ` ``, `*`, `_`, `[`, `]` and `|` are backslash-escaped (no code span, emphasis, link or
/// table cell boundary); line breaks become spaces (no new block), other control characters
/// U+FFFD.
pub fn markdown_text(text: &str) -> String {
    markdown_escaped(text, "\\`*_[]|")
}

/// Escapes a table cell's text for Markdown as [`markdown_text`] does, but backslash-escaping only
/// `\`, `` ` `` and `|`: enough that a cell opens no HTML, code span or new cell, while the cells
/// initlab makes (intervals in `[…]`, names with `_`) are written as they read.
fn markdown_cell(text: &str) -> String {
    markdown_escaped(text, "\\`|")
}

/// `text` with `<` and `&` as character references, the characters of `backslashed` escaped
/// with a backslash, line breaks as spaces and other control characters as U+FFFD.
fn markdown_escaped(text: &str, backslashed: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '&' => out.push_str("&amp;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if c.is_control() => out.push('\u{FFFD}'),
            c if backslashed.contains(c) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A relative path as a URL path for `href`/`src`: each component percent-encoded (every byte
/// but ASCII letters, digits and `-._~`), joined by `/`. The result needs no HTML escaping.
pub fn href(path: &Path) -> String {
    let mut parts = Vec::new();
    for c in path.components() {
        let part = match c {
            std::path::Component::RootDir => String::new(),
            std::path::Component::CurDir => ".".into(),
            std::path::Component::ParentDir => "..".into(),
            std::path::Component::Normal(s) => {
                let mut enc = String::new();
                for &b in s.as_encoded_bytes() {
                    if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                        enc.push(char::from(b));
                    } else {
                        let _ = write!(enc, "%{b:02X}");
                    }
                }
                enc
            }
            std::path::Component::Prefix(p) => p.as_os_str().to_string_lossy().into_owned(),
        };
        parts.push(part);
    }
    match parts.as_slice() {
        [] => ".".into(),
        [only] if only.is_empty() => "/".into(),
        _ => parts.join("/"),
    }
}

/// A column of a [`Table`].
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Its header.
    pub name: String,
    /// Right-aligned (numbers).
    pub numeric: bool,
}

/// A cell of a [`Table`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Cell {
    /// Its text.
    pub text: String,
    /// Bold (p-values below the marked level).
    pub strong: bool,
    /// A link, relative to the report's folder (HTML only: Markdown shows the text alone).
    pub link: Option<PathBuf>,
}

impl Cell {
    /// A bold cell.
    pub fn strong(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            strong: true,
            link: None,
        }
    }

    /// A cell linking to `link` (relative to the report's folder).
    pub fn link(text: impl Into<String>, link: PathBuf) -> Cell {
        Cell {
            text: text.into(),
            strong: false,
            link: Some(link),
        }
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell {
            text,
            ..Cell::default()
        }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell::from(text.to_string())
    }
}

/// A table that renders to Markdown (the summaries) and to HTML (the report page) from the same
/// cells.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// The columns.
    pub columns: Vec<Column>,
    /// The rows, one cell per column.
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// An empty table with these `(header, numeric)` columns.
    pub fn new(columns: &[(&str, bool)]) -> Table {
        Table {
            columns: columns
                .iter()
                .map(|&(name, numeric)| Column {
                    name: name.to_string(),
                    numeric,
                })
                .collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row.
    pub fn push(&mut self, row: Vec<Cell>) {
        self.rows.push(row);
    }

    /// The table as Markdown: a header, the alignment row (`---` or `---:`), one line per row;
    /// bold cells in `**…**`; cell text escaped ([`markdown_cell`]).
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let header: Vec<&str> = self.columns.iter().map(|c| c.name.as_str()).collect();
        let _ = writeln!(md, "| {} |", header.join(" | "));
        let align: Vec<&str> = self
            .columns
            .iter()
            .map(|c| if c.numeric { "---:" } else { "---" })
            .collect();
        let _ = writeln!(md, "|{}|", align.join("|"));
        for row in &self.rows {
            let cells: Vec<String> = row
                .iter()
                .map(|c| {
                    let text = markdown_cell(&c.text);
                    if c.strong {
                        format!("**{text}**")
                    } else {
                        text
                    }
                })
                .collect();
            let _ = writeln!(md, "| {} |", cells.join(" | "));
        }
        md
    }

    /// The table as HTML, inside a horizontally scrolling box; every cell carries its column's
    /// name (`data-label`), which a narrow screen shows beside the value when the page's style
    /// stacks each row into a card.
    pub fn html(&self) -> String {
        let mut h = String::from("<div class=\"scroll\"><table>\n<thead><tr>");
        for c in &self.columns {
            let _ = write!(
                h,
                "<th{}>{}</th>",
                if c.numeric { " class=\"num\"" } else { "" },
                escape(&c.name)
            );
        }
        h.push_str("</tr></thead>\n<tbody>\n");
        for row in &self.rows {
            h.push_str("<tr>");
            for (i, cell) in row.iter().enumerate() {
                let column = self.columns.get(i);
                let numeric = column.is_some_and(|c| c.numeric);
                let label = column.map_or(String::new(), |c| escape(&c.name));
                let mut text = escape(&cell.text);
                if let Some(link) = &cell.link {
                    text = format!("<a href=\"{}\">{text}</a>", href(link));
                }
                if cell.strong {
                    text = format!("<strong>{text}</strong>");
                }
                let _ = write!(
                    h,
                    "<td{} data-label=\"{label}\">{text}</td>",
                    if numeric { " class=\"num\"" } else { "" }
                );
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</tbody></table></div>\n");
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_quotes_and_control_characters() {
        assert_eq!(
            escape(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
        assert_eq!(escape("σ_w² 1.5\tok\n"), "σ_w² 1.5\tok\n");
        assert_eq!(escape("a\u{0}b\u{1b}c"), "a\u{FFFD}b\u{FFFD}c");
        // Already escaped text is escaped again, not trusted.
        assert_eq!(escape("&amp;"), "&amp;amp;");
    }

    #[test]
    fn markdown_text_opens_no_html_block_or_cell() {
        assert_eq!(
            markdown_text("<script>alert(1)</script> | *a* `b` [c](d) &lt;\n# e"),
            "&lt;script>alert(1)&lt;/script> \\| \\*a\\* \\`b\\` \\[c\\](d) &amp;lt; # e"
        );
        assert_eq!(markdown_text("a\\b\u{0}"), "a\\\\b\u{FFFD}");
        let mut t = Table::new(&[("run", false)]);
        t.push(vec!["x|<img src=y onerror=z>\n|".into()]);
        t.push(vec!["[0.1, 0.2] σ_w² > 1".into()]);
        assert_eq!(
            t.markdown(),
            "| run |\n|---|\n| x\\|&lt;img src=y onerror=z> \\| |\n| [0.1, 0.2] σ_w² > 1 |\n"
        );
    }

    #[test]
    fn hrefs_are_percent_encoded_per_component() {
        assert_eq!(
            href(Path::new("runs/normal-seed777-ab12")),
            "runs/normal-seed777-ab12"
        );
        assert_eq!(
            href(Path::new("a b/<x>\"&'#?%.png")),
            "a%20b/%3Cx%3E%22%26%27%23%3F%25.png"
        );
        assert_eq!(href(Path::new("../up/σ")), "../up/%CF%83");
        assert_eq!(href(Path::new("")), ".");
    }

    #[test]
    fn tables_render_the_same_cells_as_markdown_and_html() {
        let mut t = Table::new(&[("init", false), ("p", true)]);
        t.push(vec!["a<b".into(), Cell::strong("0.001")]);
        t.push(vec![
            Cell::link("run & co", PathBuf::from("runs/r 1")),
            "—".into(),
        ]);
        assert_eq!(
            t.markdown(),
            "| init | p |\n|---|---:|\n| a&lt;b | **0.001** |\n| run &amp; co | — |\n"
        );
        let h = t.html();
        assert!(h.contains(
            "<td data-label=\"init\">a&lt;b</td><td class=\"num\" data-label=\"p\"><strong>0.001</strong></td>"
        ));
        assert!(h.contains("<a href=\"runs/r%201\">run &amp; co</a>"), "{h}");
        assert!(h.contains("<th class=\"num\">p</th>"));
    }
}
