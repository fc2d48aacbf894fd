//! `report.html` through the binary: a tiny `compare` over two inits and two seeds writes a page
//! beside `summary.md` that holds inline SVG charts, the summary's numbers, loads nothing from the
//! network, escapes the title, and whose relative links all resolve.

use std::process::Command;

/// The values of every `name="…"` attribute in `html`.
fn attribute_values<'a>(html: &'a str, name: &str) -> Vec<&'a str> {
    let needle = format!(" {name}=\"");
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(&needle) {
        let after = &rest[i + needle.len()..];
        let end = after.find('"').expect("a closed attribute value");
        out.push(&after[..end]);
        rest = &after[end..];
    }
    out
}

/// `%XX` sequences decoded to bytes, then read as UTF-8.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("ascii");
            out.push(u8::from_str_radix(hex, 16).expect("hex"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("utf-8 path")
}

#[test]
fn compare_writes_an_offline_report_page_with_charts_tables_and_working_links() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("cmp out");
    let title = "Tiny <compare> & \"friends\"";
    let o = Command::new(env!("CARGO_BIN_EXE_initlab"))
        .args([
            "compare",
            "--inits",
            "normal,xavier-uniform",
            "--model",
            "784,16,10",
            "--epochs",
            "2",
            "--train-limit",
            "1000",
            "--seeds",
            "2",
            "--title",
            title,
            "--quiet",
            "--out",
        ])
        .arg(&out)
        .env("OMP_WAIT_POLICY", "PASSIVE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let page = out.join("report.html");
    assert!(
        stdout.contains(&format!("Report page: {}", page.display())),
        "{stdout}"
    );
    let html = std::fs::read_to_string(&page).unwrap();
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();

    // A page for narrow screens, with charts as inline SVG: three (test error, validation error
    // — compare holds out 10,000 images by default — and train cost), each with one line and two
    // markers per run.
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<meta name=\"viewport\" content=\"width=device-width"));
    assert_eq!(html.matches("<svg class=\"chart\" viewBox=").count(), 3);
    assert_eq!(html.matches("<polyline").count(), 12, "{html}");
    assert_eq!(html.matches("<circle class=\"pt\"").count(), 24);
    assert!(html.contains("xavier-uniform seed 778: epoch 2, test error % "));
    assert!(html.contains("class=\"legend\""));

    // The statistics table: the same cells as the summary's rows.
    for init in ["normal", "xavier-uniform"] {
        let row = md
            .lines()
            .find(|l| l.starts_with(&format!("| {init} | 2")))
            .unwrap_or_else(|| panic!("{md}"));
        for cell in row.trim_matches('|').split(" | ").map(str::trim) {
            let cell = cell.trim_matches('*');
            assert!(
                html.contains(&format!(">{cell}<")),
                "{cell:?} of {row:?} not in the page"
            );
        }
    }
    assert!(html.contains(" ± ") && html.contains("95 % interval"));
    // Two seeds each: the note says the permutation p cannot go below 2/6.
    assert!(html.contains("With 2 runs per init the exact permutation p cannot fall below 0.33"));

    // The title is data: escaped, never markup.
    assert!(html.contains("<title>Tiny &lt;compare&gt; &amp; &quot;friends&quot;</title>"));
    assert!(!html.contains("<compare>"));

    // Nothing loads from the network: no external scripts, styles, fonts or pictures.
    assert!(!html.contains("<link") && !html.contains("url(") && !html.contains("@import"));
    assert!(!html.contains("<script src") && !html.contains("<iframe"));
    let links: Vec<&str> = attribute_values(&html, "href")
        .into_iter()
        .chain(attribute_values(&html, "src"))
        .collect();
    for l in &links {
        assert!(
            !l.contains(':') && !l.starts_with("//") && !l.starts_with('/'),
            "{l} is not a relative link"
        );
    }

    // Every relative link resolves: four run directories, their files, the summaries.
    for l in &links {
        let target = out.join(percent_decode(l));
        assert!(target.exists(), "{l} -> {} missing", target.display());
    }
    let run_dirs: Vec<&&str> = links
        .iter()
        .filter(|l| l.starts_with("runs/") && l.ends_with('/'))
        .collect();
    assert_eq!(run_dirs.len(), 4, "{links:?}");
    for d in &run_dirs {
        let dir = out.join(percent_decode(d));
        for f in ["loss.png", "dynamics.png", "run.json"] {
            if dir.join(f).is_file() {
                assert!(links.contains(&format!("{d}{f}").as_str()), "{d}{f}");
            }
        }
    }
    assert!(links.contains(&"summary.md"));

    // Each run's configuration and versions from its run.json, collapsed.
    assert_eq!(html.matches("<details>").count(), 4);
    for key in [
        "model.widths",
        "train.learning_rate",
        "libtorch",
        "cpu",
        "tch",
    ] {
        // A cell of its own (labelled with its column for the phone layout).
        assert!(html.contains(&format!("\">{key}</td>")), "{key}");
    }
    // The script that turns markers' titles into tooltips is inline.
    assert!(html.contains("<script>\n(function () {"));
}
