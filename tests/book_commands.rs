//! Every `initlab …` command the documentation shows is one the tool accepts: the command lines of
//! README.md, README.ko.md and the guide (book/**/*.md) are parsed with the binary's own clap parser
//! (`src/cli.rs`, compiled into this test), every flag printed by a command's `--help` or named in the
//! guide's synopsis belongs to that command, and every relative link and picture of the guide exists.
//! The Korean guide shows the same commands as the English one, chapter by chapter.

#[allow(dead_code)]
#[path = "../src/cli.rs"]
mod cli;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::CommandFactory;

/// The repository root (where Cargo.toml is).
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md, README.ko.md and every Markdown file under book/, as paths relative to the root.
fn documents() -> Vec<PathBuf> {
    let mut files = vec![PathBuf::from("README.md"), PathBuf::from("README.ko.md")];
    let mut book = Vec::new();
    markdown_below(&root(), Path::new("book"), &mut book);
    book.sort();
    files.extend(book);
    files
}

/// Markdown files below `dir` (relative to `base`), not following links (book/*/src/images is one).
fn markdown_below(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(base.join(dir)).unwrap_or_else(|e| panic!("{dir:?}: {e}"));
    for entry in entries {
        let entry = entry.expect("directory entry");
        let kind = entry.file_type().expect("file type");
        let path = dir.join(entry.file_name());
        if kind.is_dir() {
            markdown_below(base, &path, out);
        } else if kind.is_file() && path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
}

/// A line of a fenced code block, continuation lines (`\`) joined, with where it starts.
struct CodeLine {
    file: PathBuf,
    line: usize,
    text: String,
    /// ```text blocks hold synopses (`[--epochs 15]`, `a|b`): only their flags are checked.
    synopsis: bool,
}

impl CodeLine {
    fn at(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }
}

/// The shell-like code blocks of one Markdown file (untagged, sh, bash, console, shell, text).
fn code_lines(file: &Path) -> Vec<CodeLine> {
    let text =
        std::fs::read_to_string(root().join(file)).unwrap_or_else(|e| panic!("{file:?}: {e}"));
    let mut out: Vec<CodeLine> = Vec::new();
    let mut fence: Option<(String, bool)> = None;
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let trimmed = raw.trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            fence = match fence {
                None => Some((info.trim().to_string(), info.trim() == "text")),
                Some(_) => None,
            };
            pending = None;
            continue;
        }
        let Some((lang, synopsis)) = &fence else {
            continue;
        };
        if !matches!(
            lang.as_str(),
            "" | "sh" | "bash" | "console" | "shell" | "text"
        ) {
            continue;
        }
        if *synopsis && raw.starts_with(' ') {
            // A synopsis continues on indented lines.
            if let Some(last) = out.last_mut() {
                last.text.push(' ');
                last.text.push_str(raw.trim());
            }
            continue;
        }
        let (start, mut joined) = pending.take().unwrap_or((i + 1, String::new()));
        joined.push_str(raw.trim());
        match joined.strip_suffix('\\') {
            Some(head) => pending = Some((start, format!("{head} "))),
            None => out.push(CodeLine {
                file: file.to_path_buf(),
                line: start,
                text: joined,
                synopsis: *synopsis,
            }),
        }
    }
    out
}

/// One shell token: a word (`eval` when it holds `$(…)` or `$VAR` the shell would expand) or an
/// operator (`|`, `&&`, `;`, `>` …).
#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word { text: String, eval: bool },
    Op(String),
}

/// Splits a command line the way a POSIX shell does, far enough for documentation: quotes,
/// backslashes, `$(…)` kept whole inside its word, operators, and `#` comments.
fn tokens(line: &str) -> Vec<Token> {
    let chars: Vec<char> = line.chars().collect();
    let mut out = Vec::new();
    let mut word = String::new();
    let (mut in_word, mut eval) = (false, false);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' => {
                flush(&mut out, &mut word, &mut in_word, &mut eval);
                i += 1;
            }
            '#' if !in_word => break,
            '|' | '&' | ';' | '<' | '>' => {
                flush(&mut out, &mut word, &mut in_word, &mut eval);
                let mut op = c.to_string();
                if i + 1 < chars.len() && (chars[i + 1] == c || (c == '>' && chars[i + 1] == '&')) {
                    op.push(chars[i + 1]);
                    i += 1;
                }
                out.push(Token::Op(op));
                i += 1;
            }
            '\'' => {
                let end = find(&chars, i + 1, '\'');
                word.extend(&chars[i..=end.min(chars.len() - 1)]);
                in_word = true;
                i = end + 1;
            }
            '"' => {
                let end = find(&chars, i + 1, '"');
                let inner: String = chars[i + 1..end.min(chars.len())].iter().collect();
                eval |= inner.contains('$');
                word.extend(&chars[i..=end.min(chars.len() - 1)]);
                in_word = true;
                i = end + 1;
            }
            '\\' if i + 1 < chars.len() => {
                word.extend(&chars[i..i + 2]);
                in_word = true;
                i += 2;
            }
            '$' if chars.get(i + 1) == Some(&'(') => {
                let end = closing_paren(&chars, i + 1);
                word.extend(&chars[i..=end.min(chars.len() - 1)]);
                in_word = true;
                eval = true;
                i = end + 1;
            }
            _ => {
                eval |= c == '$' || (c == '~' && !in_word);
                word.push(c);
                in_word = true;
                i += 1;
            }
        }
    }
    flush(&mut out, &mut word, &mut in_word, &mut eval);
    out
}

fn flush(out: &mut Vec<Token>, word: &mut String, in_word: &mut bool, eval: &mut bool) {
    if *in_word {
        out.push(Token::Word {
            text: std::mem::take(word),
            eval: *eval,
        });
    }
    *in_word = false;
    *eval = false;
}

/// The index of the next `c` from `from` (the end of the line if there is none).
fn find(chars: &[char], from: usize, c: char) -> usize {
    (from..chars.len())
        .find(|&j| chars[j] == c)
        .unwrap_or(chars.len())
}

/// The `)` that closes the `(` at `open`.
fn closing_paren(chars: &[char], open: usize) -> usize {
    let mut depth = 0;
    for (j, &c) in chars.iter().enumerate().skip(open) {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return j;
                }
            }
            _ => {}
        }
    }
    chars.len()
}

/// Commands a substitution in the documentation may run when the test expands a word.
const HARMLESS: &[&str] = &["printf", "seq", "echo"];

/// A word as the shell would pass it: quotes removed, and `$(printf …)`/`$(seq …)` substitutions
/// evaluated by `sh`. Other expansions (`$HOME`, `$(anything else)`) become `PLACEHOLDER`.
fn expand(text: &str, eval: bool) -> String {
    if eval {
        let commands = text.split("$(").skip(1);
        let harmless = commands
            .clone()
            .all(|c| HARMLESS.iter().any(|h| c.trim_start().starts_with(h)))
            && !text.replace("$(", "").contains('$');
        if !harmless || commands.count() == 0 {
            return "PLACEHOLDER".into();
        }
        let out = Process::new("sh")
            .arg("-c")
            .arg(format!("printf '%s' {text}"))
            .output()
            .expect("run sh");
        assert!(out.status.success(), "sh could not expand {text}");
        return String::from_utf8(out.stdout).expect("UTF-8 expansion");
    }
    unquote(text)
}

/// Quotes and backslashes removed, as the shell does for a word without expansions.
fn unquote(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None | Some('"'), '\\') => out.extend(chars.next()),
            _ => out.push(c),
        }
    }
    out
}

/// The arguments after `initlab` of every initlab command in a line (`a && initlab …`,
/// `VAR=1 initlab …`, `env VAR=1 initlab …`, `./target/release/initlab …`), redirections dropped.
fn initlab_commands(line: &str) -> Vec<Vec<String>> {
    let line = line.strip_prefix("$ ").unwrap_or(line);
    let mut commands = Vec::new();
    let mut segment: Vec<Token> = Vec::new();
    let mut tokens = tokens(line).into_iter().peekable();
    loop {
        let token = tokens.next();
        match &token {
            Some(Token::Op(op)) if op.starts_with('>') || op.starts_with('<') => {
                // The redirection's file name.
                tokens.next();
            }
            Some(Token::Word { .. }) => segment.push(token.expect("a word")),
            _ => {
                commands.extend(initlab_args(&segment));
                segment.clear();
                if token.is_none() {
                    return commands;
                }
            }
        }
    }
}

/// The arguments of one pipeline segment if it runs initlab.
fn initlab_args(segment: &[Token]) -> Option<Vec<String>> {
    let words: Vec<(String, bool)> = segment
        .iter()
        .map(|t| match t {
            Token::Word { text, eval } => (text.clone(), *eval),
            Token::Op(_) => unreachable!("segments hold words"),
        })
        .collect();
    let mut rest = words.as_slice();
    while let Some(((first, _), tail)) = rest.split_first() {
        let assignment = first.contains('=') && !first.starts_with('-') && !first.starts_with('=');
        if first == "env" || assignment {
            rest = tail;
        } else {
            break;
        }
    }
    let ((program, _), args) = rest.split_first()?;
    if program != "initlab" && !program.ends_with("/initlab") {
        return None;
    }
    Some(args.iter().map(|(w, e)| expand(w, *e)).collect())
}

/// Parses `initlab args…` with the real parser. A path the parser requires to exist (`RUN_DIR`,
/// `--data-dir`, `IMAGE`) is created in `scratch` and the argument pointed there: whether a run
/// directory exists is a fact about the reader's disk, not about the command.
fn parse(args: &[String], scratch: &Path) -> Result<(), String> {
    let mut args = args.to_vec();
    for _ in 0..16 {
        let argv = std::iter::once("initlab".to_string()).chain(args.iter().cloned());
        let err = match cli::Cli::command().try_get_matches_from(argv) {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        if matches!(
            err.kind(),
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
        ) {
            return Ok(());
        }
        let message = err.to_string();
        let missing = match err.get(ContextKind::InvalidValue) {
            Some(ContextValue::String(v)) if err.kind() == ErrorKind::ValueValidation => v.clone(),
            _ => return Err(message),
        };
        let is_file = message.contains(&format!("file {missing} does not exist"));
        let is_dir = message.contains(&format!("directory {missing} does not exist"));
        if !(is_file || is_dir) || Path::new(&missing).is_absolute() {
            return Err(message);
        }
        let made = scratch.join(&missing);
        if is_dir {
            std::fs::create_dir_all(&made).map_err(|e| format!("{made:?}: {e}"))?;
        } else {
            std::fs::create_dir_all(made.parent().expect("a parent")).map_err(|e| e.to_string())?;
            std::fs::write(&made, b"").map_err(|e| format!("{made:?}: {e}"))?;
        }
        let made = made.to_string_lossy().into_owned();
        for a in args.iter_mut() {
            if *a == missing {
                *a = made.clone();
            } else if let Some((flag, value)) = a.split_once('=') {
                if value == missing {
                    *a = format!("{flag}={made}");
                }
            }
        }
    }
    Err("too many missing paths".into())
}

/// The subcommand a list of words names (`train`, `study`, …) and the clap command for it.
fn subcommand<'a>(root: &'a clap::Command, name: &str) -> Option<&'a clap::Command> {
    root.get_subcommands()
        .find(|s| s.get_name() == name || s.get_all_aliases().any(|a| a == name))
}

/// The long flags a command accepts: its own, the global ones, and clap's --help/--version.
fn long_flags(root: &clap::Command, command: &clap::Command) -> Vec<String> {
    let mut flags: Vec<String> = ["help", "version"].iter().map(|s| s.to_string()).collect();
    for arg in command.get_arguments().chain(root.get_arguments()) {
        flags.extend(arg.get_long().map(str::to_string));
        flags.extend(
            arg.get_all_aliases()
                .into_iter()
                .flatten()
                .map(str::to_string),
        );
    }
    flags
}

/// Every `--flag` in `text`, with the subcommand written right before it when there is one
/// (`train --init dbn` names train's --init in another command's help).
fn flags_in(text: &str, subcommands: &[String]) -> Vec<(Option<String>, String)> {
    let mut out = Vec::new();
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == '`' || c == '|')
        .collect();
    for (i, w) in words.iter().enumerate() {
        let w = w.trim_start_matches(['[', '(', '<']);
        let Some(rest) = w.strip_prefix("--") else {
            continue;
        };
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
            continue;
        }
        let before = i
            .checked_sub(1)
            .map(|j| words[j].trim_matches(|c| c == '(' || c == '['));
        let owner = before.filter(|b| subcommands.iter().any(|s| s == b));
        out.push((owner.map(str::to_string), name));
    }
    out
}

/// Checks each `--flag` of `text` against `command` (or the subcommand written before it).
fn check_flags(text: &str, command: &clap::Command, at: &str, failures: &mut String) {
    let root = cli::Cli::command();
    let names: Vec<String> = root
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for (owner, flag) in flags_in(text, &names) {
        let target = owner
            .as_deref()
            .and_then(|o| subcommand(&root, o))
            .unwrap_or(command);
        if !long_flags(&root, target).contains(&flag) {
            let _ = writeln!(
                failures,
                "{at}: `initlab {}` has no --{flag}",
                target.get_name()
            );
        }
    }
}

#[test]
fn every_command_in_the_documentation_parses() {
    let scratch = tempfile::tempdir().expect("temporary directory");
    let (mut failures, mut checked) = (String::new(), 0);
    let root = cli::Cli::command();
    for file in documents() {
        for line in code_lines(&file) {
            if line.synopsis {
                // `initlab <command> [--flag …] …`: the flags must be the command's.
                let mut words = line.text.split_whitespace();
                if words.next() != Some("initlab") {
                    continue;
                }
                checked += 1;
                let name = words.next().unwrap_or("");
                match subcommand(&root, name) {
                    Some(c) => check_flags(&line.text, c, &line.at(), &mut failures),
                    None => {
                        let _ = writeln!(failures, "{}: no command {name:?}", line.at());
                    }
                }
                continue;
            }
            for args in initlab_commands(&line.text) {
                checked += 1;
                if let Err(e) = parse(&args, scratch.path()) {
                    let _ = writeln!(
                        failures,
                        "{}: initlab {}\n    {e}",
                        line.at(),
                        args.join(" ")
                    );
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "commands the parser refuses:\n{failures}"
    );
    // The README's and the guide's examples were found at all (the extraction works).
    assert!(checked >= 40, "only {checked} initlab commands found");
}

#[test]
fn every_flag_in_help_is_accepted_and_every_help_example_parses() {
    let scratch = tempfile::tempdir().expect("temporary directory");
    let mut root = cli::Cli::command();
    root.build();
    let mut failures = String::new();
    // The top-level help lists each command's summary, which its own --help repeats: checked there.
    for command in root
        .get_subcommands()
        .filter(|c| !c.is_hide_set() && c.get_name() != "help")
    {
        let at = format!("initlab {} --help", command.get_name());
        let help = command.clone().render_long_help().to_string();
        check_flags(&help, command, &at, &mut failures);
        for example in help.lines().map(str::trim) {
            let example = example.strip_prefix("$ ").unwrap_or(example);
            if !example.starts_with("initlab ") {
                continue;
            }
            for args in initlab_commands(example) {
                if let Err(e) = parse(&args, scratch.path()) {
                    let _ = writeln!(failures, "{at}: example `{example}`\n    {e}");
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "--help texts name flags the parser refuses:\n{failures}"
    );
}

/// Each way of writing a line the extraction must understand, on its own.
#[test]
fn the_extraction_reads_shell_as_a_shell_would() {
    let one = |line: &str| initlab_commands(line);
    assert_eq!(
        one("$ initlab lab --seeds 3   # a comment"),
        vec![vec!["lab", "--seeds", "3"]]
    );
    assert_eq!(
        one("cd / && OMP_NUM_THREADS=1 ./target/release/initlab train --out /tmp/runs | head"),
        vec![vec!["train", "--out", "/tmp/runs"]]
    );
    assert_eq!(
        one(r#"initlab inspect --widths "784$(printf ',256%.0s' $(seq 3)),10" --name 'a b'"#),
        vec![vec![
            "inspect",
            "--widths",
            "784,256,256,256,10",
            "--name",
            "a b"
        ]]
    );
    assert_eq!(
        one("initlab compare --emit-plan > plan.txt"),
        vec![vec!["compare", "--emit-plan"]]
    );
    assert_eq!(
        one("initlab plot --title \"$HOME\""),
        vec![vec!["plot", "--title", "PLACEHOLDER"]]
    );
    assert!(one("alias initlab=\"$PWD/target/release/initlab\"").is_empty());
    assert!(one("# initlab train --epochs 0").is_empty());
    let scratch = tempfile::tempdir().expect("temporary directory");
    let args = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
    assert!(parse(&args("train --epochs 0"), scratch.path()).is_err());
    assert!(parse(&args("train --no-such-flag"), scratch.path()).is_err());
    assert!(parse(&args("eval runs/x --json"), scratch.path()).is_ok());
    assert!(parse(&args("eval /no/such/run"), scratch.path()).is_err());
}

/// Relative links and pictures of the README files and the guide point at files that exist.
#[test]
fn every_relative_link_and_picture_exists() {
    let mut failures = String::new();
    for file in documents() {
        let text = std::fs::read_to_string(root().join(&file)).expect("read");
        let dir = file.parent().unwrap_or(Path::new(""));
        for (n, line) in text.lines().enumerate() {
            for target in line.split("](").skip(1).filter_map(|s| s.split(')').next()) {
                let path = target.split('#').next().unwrap_or("");
                if path.is_empty() || path.contains("://") || path.starts_with("mailto:") {
                    continue;
                }
                if !root().join(dir).join(path).exists() {
                    let _ = writeln!(failures, "{}:{}: {target}", file.display(), n + 1);
                }
            }
        }
    }
    assert!(failures.is_empty(), "links to nothing:\n{failures}");
}

/// The Korean guide has the English one's chapters and shows the same commands in each.
#[test]
fn the_korean_guide_mirrors_the_english_one() {
    let chapters = |lang: &str| {
        let mut files = Vec::new();
        markdown_below(
            &root().join("book").join(lang),
            Path::new("src"),
            &mut files,
        );
        files.sort();
        files
    };
    let (en, ko) = (chapters("en"), chapters("ko"));
    assert_eq!(
        en, ko,
        "book/en/src and book/ko/src hold other chapter files"
    );
    let commands = |lang: &str, chapter: &Path| {
        let mut all: BTreeMap<String, usize> = BTreeMap::new();
        for line in code_lines(&Path::new("book").join(lang).join(chapter)) {
            for args in initlab_commands(&line.text) {
                *all.entry(args.join(" ")).or_default() += 1;
            }
        }
        all
    };
    let mut failures = String::new();
    for chapter in &en {
        let (e, k) = (commands("en", chapter), commands("ko", chapter));
        if e != k {
            let _ = writeln!(failures, "{}:\n  en {e:?}\n  ko {k:?}", chapter.display());
        }
    }
    assert!(
        failures.is_empty(),
        "chapters whose commands differ:\n{failures}"
    );
}
