//! The broken-stack corpus: every file under `tests/stacks/broken` must fail to compile
//! with the diagnostics its first line announces, every file under `tests/stacks/warn` must
//! compile with only the warnings it announces, and each rendered report is an insta
//! snapshot in `snapshots/` (reviewed by eye: narrowest span, the thing named, a help that
//! says what to change).
//!
//! A corpus file starts with `// expect: CODE [CODE...]`: the set of codes the report must
//! contain, and the only codes it may contain.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use strixc::compile::compile;
use strixc::diagnostic::{Diagnostics, RenderStyle, Severity, render, render_summary};
use strixc::source::Source;
use strixc::source::parse::{MAX_BYTES, MAX_DEPTH, MAX_LINES};

fn stacks_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/stacks")
}

/// The `.kdl` files of one corpus directory, sorted.
fn corpus(kind: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(stacks_dir().join(kind))
        .unwrap_or_else(|e| panic!("reading tests/stacks/{kind}: {e}"))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "kdl"))
        .collect();
    files.sort();
    files
}

/// `broken/port-conflict.kdl`: what reports show as the file name (stable across machines).
fn load(path: &Path) -> Source {
    let bytes = std::fs::read(path).unwrap();
    let name = path
        .strip_prefix(stacks_dir())
        .unwrap()
        .display()
        .to_string();
    Source::from_bytes(name, &bytes)
}

/// The codes announced on the file's `// expect:` lines.
fn expected_codes(source: &Source) -> BTreeSet<String> {
    source
        .text()
        .lines()
        .take_while(|line| line.starts_with("//"))
        .filter_map(|line| line.strip_prefix("// expect:"))
        .flat_map(|codes| codes.split_whitespace().map(str::to_owned))
        .collect()
}

/// What `strixc check` shows for a source: every diagnostic and the summary line.
fn report(diagnostics: &Diagnostics, source: &Source) -> String {
    let mut text = render(diagnostics, source, RenderStyle::Plain);
    text.push_str(&render_summary(diagnostics, source));
    text.push('\n');
    text
}

fn compile_to_diagnostics(source: &Source) -> (bool, Diagnostics) {
    match compile(source) {
        Ok(checked) => (true, checked.warnings),
        Err(diagnostics) => (false, diagnostics),
    }
}

/// Checks one corpus file against its `// expect:` line; returns what is wrong with it.
fn check_expectations(path: &Path, must_fail: bool) -> Vec<String> {
    let source = load(path);
    let name = source.name().to_owned();
    let mut problems = Vec::new();
    let expected = expected_codes(&source);
    if expected.is_empty() {
        problems.push(format!("{name}: no `// expect: CODE` line"));
    }
    let (ok, diagnostics) = compile_to_diagnostics(&source);
    let found: BTreeSet<String> = diagnostics
        .iter()
        .map(|d| d.problem.code().to_owned())
        .collect();
    if must_fail {
        if ok || diagnostics.error_count() == 0 {
            problems.push(format!("{name}: compiled without errors"));
        }
    } else {
        if !ok || diagnostics.error_count() > 0 {
            problems.push(format!("{name}: a warning-only stack has errors"));
        }
        if diagnostics
            .iter()
            .any(|d| d.severity() != Severity::Warning)
        {
            problems.push(format!(
                "{name}: a warning-only stack reports a non-warning"
            ));
        }
    }
    for missing in expected.difference(&found) {
        problems.push(format!(
            "{name}: expected {missing}, not reported (found {found:?})"
        ));
    }
    for extra in found.difference(&expected) {
        problems.push(format!(
            "{name}: reported {extra}, not in its `// expect:` line"
        ));
    }
    let rendered = report(&diagnostics, &source);
    for code in &expected {
        if !rendered.contains(code.as_str()) {
            problems.push(format!("{name}: the rendered report does not show {code}"));
        }
    }
    // Every report names the file, and each diagnostic points inside the text.
    if !rendered.contains(source.name()) {
        problems.push(format!("{name}: the report does not name the file"));
    }
    for d in diagnostics.iter() {
        if d.span.offset() + d.span.len() > source.text().len() {
            problems.push(format!(
                "{name}: {} has a span past the end",
                d.problem.code()
            ));
        }
        // The kdl crate's own syntax errors come with a help only sometimes.
        let is_syntax = d.problem.code() == "strixc::syntax";
        if d.problem.help().is_none() && d.severity() == Severity::Error && !is_syntax {
            problems.push(format!("{name}: {} has no help", d.problem.code()));
        }
    }
    problems
}

#[test]
fn corpus_is_large_enough() {
    let broken = corpus("broken").len();
    let warn = corpus("warn").len();
    assert!(broken >= 45, "only {broken} broken stacks");
    assert!(warn >= 1, "no warning-only stacks");
}

#[test]
fn broken_stacks_report_what_they_expect() {
    let problems: Vec<String> = corpus("broken")
        .iter()
        .flat_map(|path| check_expectations(path, true))
        .collect();
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn warning_stacks_compile_with_their_warnings() {
    let problems: Vec<String> = corpus("warn")
        .iter()
        .flat_map(|path| check_expectations(path, false))
        .collect();
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

/// insta's `glob!` counts every failing snapshot assertion in the process while it runs,
/// so a failure in a test running beside it would not panic: snapshot tests take turns.
static SNAPSHOTS: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    SNAPSHOTS.lock().unwrap_or_else(PoisonError::into_inner)
}

fn snapshot_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(true);
    settings.set_omit_expression(true);
    settings
}

#[test]
fn broken_stack_reports() {
    let _turn = one_at_a_time();
    snapshot_settings().bind(|| {
        insta::glob!("stacks/broken/*.kdl", |path| {
            let source = load(path);
            let (_, diagnostics) = compile_to_diagnostics(&source);
            insta::assert_snapshot!("broken", report(&diagnostics, &source));
        });
    });
}

#[test]
fn warning_stack_reports() {
    let _turn = one_at_a_time();
    snapshot_settings().bind(|| {
        insta::glob!("stacks/warn/*.kdl", |path| {
            let source = load(path);
            let (_, diagnostics) = compile_to_diagnostics(&source);
            insta::assert_snapshot!("warn", report(&diagnostics, &source));
        });
    });
}

/// The one diagnostic a generated file must produce, and its rendered report.
fn single_error(source: &Source, code: &str) -> String {
    let (ok, diagnostics) = compile_to_diagnostics(source);
    assert!(!ok, "{} compiled", source.name());
    let codes: Vec<&str> = diagnostics.iter().map(|d| d.problem.code()).collect();
    assert_eq!(codes, [code], "{}", source.name());
    report(&diagnostics, source)
}

#[test]
fn deep_nesting_is_a_clear_error_not_a_stack_overflow() {
    // 25,000 levels: the kdl crate itself overflows its stack at about 20,000.
    let depth = 25_000;
    let text = format!("{}{}", "a {\n".repeat(depth), "}\n".repeat(depth));
    let source = Source::new("deep.kdl", text);
    let rendered = single_error(&source, "strixc::source::too_deep");
    assert!(rendered.contains(&format!("nested more than {MAX_DEPTH} levels")));
    let _turn = one_at_a_time();
    snapshot_settings().bind(|| insta::assert_snapshot!("generated-too-deep", rendered));
}

#[test]
fn deep_nesting_inside_a_valid_stack_is_caught_too() {
    // The nesting hides in a node's children after a valid stack.
    let base = std::fs::read_to_string(stacks_dir().join("../../stack.kdl")).unwrap();
    let depth = 25_000;
    let text = format!(
        "{base}\nagent \"deep\" {}{}",
        "{ x ".repeat(depth),
        "} ".repeat(depth)
    );
    let source = Source::new("deep.kdl", text);
    single_error(&source, "strixc::source::too_deep");
}

#[test]
fn long_and_nested_block_comments_do_not_overflow_the_stack() {
    // The kdl crate reads a block comment recursively, one frame per `*`, `/` or nested
    // comment: 3,000 stars overflowed it. Comments are whitespace: the stack stays valid.
    let base = std::fs::read_to_string(stacks_dir().join("../../stack.kdl")).unwrap();
    let depth = 25_000;
    let stars = format!("{base}\n/* {} */\n", "* / ".repeat(depth));
    let nested = format!("{base}\n{}{}\n", "/* ".repeat(depth), "*/ ".repeat(depth));
    for text in [stars, nested] {
        let source = Source::new("comments.kdl", text);
        let (ok, diagnostics) = compile_to_diagnostics(&source);
        assert!(ok, "{}", report(&diagnostics, &source));
    }
}

#[test]
fn a_huge_file_is_a_clear_error() {
    let line = "// padding padding padding padding padding padding padding padding padding\n";
    let mut text = String::from("stack \"huge\"\n");
    while text.len() <= MAX_BYTES {
        text.push_str(line);
    }
    let bytes = text.len();
    let source = Source::new("huge.kdl", text);
    let rendered = single_error(&source, "strixc::source::too_large");
    assert!(rendered.contains(&format!("the file is {bytes} bytes")));
    let _turn = one_at_a_time();
    snapshot_settings().bind(|| insta::assert_snapshot!("generated-too-large", rendered));
}

#[test]
fn bytes_that_are_not_utf8_are_reported_where_they_are() {
    // A valid stack with one Latin-1 byte in the middle, written from the test.
    let mut bytes = std::fs::read(stacks_dir().join("../../stack.kdl")).unwrap();
    let at = bytes.len() / 2;
    bytes.insert(at, 0xff);
    let source = Source::from_bytes("latin1.kdl", &bytes);
    single_error(&source, "strixc::source::not_utf8");
    let (_, diagnostics) = compile_to_diagnostics(&source);
    let d = diagnostics.iter().next().unwrap();
    assert_eq!(d.span.offset(), at);
}

#[test]
fn the_shipped_stack_has_no_diagnostics() {
    let path = stacks_dir().join("../../stack.kdl");
    let source = Source::from_bytes("stack.kdl", &std::fs::read(path).unwrap());
    let (ok, diagnostics) = compile_to_diagnostics(&source);
    assert!(ok, "{}", report(&diagnostics, &source));
    assert!(diagnostics.is_empty(), "{}", report(&diagnostics, &source));
}

/// Characters that would drive or fool a terminal: never printed raw.
fn raw_hidden(report: &str) -> Vec<char> {
    report
        .chars()
        .filter(|&c| (c.is_control() && c != '\n') || ('\u{200b}'..='\u{200f}').contains(&c))
        .collect()
}

#[test]
fn control_and_invisible_characters_are_shown_escaped() {
    // A zero-width space in a name, ESC in a role (a KDL escape), a line break in the
    // file's name.
    let text = "stack \"mini\"\nagent \"thor\u{200b}\" {\n    role \"\\u{1b}[2J\"\n}\n";
    let source = Source::new("bad\nname.kdl", text);
    let (_, diagnostics) = compile_to_diagnostics(&source);
    let rendered = report(&diagnostics, &source);
    assert_eq!(raw_hidden(&rendered), Vec::<char>::new(), "{rendered}");
    assert!(rendered.contains("thor\\u{200b}"), "{rendered}");
    assert!(rendered.contains("bad\\u{a}name.kdl"), "{rendered}");

    // Bytes of a binary file: ESC sequences echoed to the terminal would run.
    let bytes = b"stack \"x\"\n\x1b]0;pwned\x07\x1b[31m\xff\xfe\n";
    let source = Source::from_bytes("binary.kdl", bytes);
    let (_, diagnostics) = compile_to_diagnostics(&source);
    let rendered = report(&diagnostics, &source);
    assert_eq!(raw_hidden(&rendered), Vec::<char>::new(), "{rendered}");
    let source = Source::new("escapes.kdl", "stack \"x\" \u{1b}[31m\n");
    let (_, diagnostics) = compile_to_diagnostics(&source);
    let rendered = report(&diagnostics, &source);
    assert!(!diagnostics.is_empty());
    assert_eq!(raw_hidden(&rendered), Vec::<char>::new(), "{rendered}");
}

#[test]
fn labels_far_apart_get_separate_snippets() {
    let mut text = String::from("stack \"mini\"\n");
    // 60 lines down, then 40 more: miette merged two labels into one snippet showing every
    // line between whenever the second was less than twice as far down as the first.
    text.push_str(&"// filler\n".repeat(60));
    text.push_str("runtime \"vllm\" {\n    image \"docker.io/x/y:z\"\n}\n");
    text.push_str(&"// filler\n".repeat(40));
    text.push_str("runtime \"vllm\" {\n    image \"docker.io/x/y:z\"\n}\n");
    let source = Source::new("far.kdl", text.as_str());
    let (_, diagnostics) = compile_to_diagnostics(&source);
    let rendered = report(&diagnostics, &source);
    assert!(rendered.contains("strixc::name::duplicate"), "{rendered}");
    let fillers = rendered.matches("// filler").count();
    assert!(
        fillers <= 4,
        "{fillers} filler lines shown: the snippet spans the lines between\n{rendered}"
    );
}

/// `port-out-of-range.kdl` with `port 0` fixed: one error, `port 70000` (line 38 of the
/// returned text, `extra_line` on line 37 above it).
fn one_port_error(extra_line: &str, port_line: &str) -> String {
    let base = std::fs::read_to_string(stacks_dir().join("broken/port-out-of-range.kdl")).unwrap();
    base.replace("    port 0\n", "    port 8001\n")
        .replace("    port 70000\n", &format!("{extra_line}\n{port_line}\n"))
}

/// The column (in characters) under which the `┬` of the label's underline stands, and where
/// `needle` starts, on the snippet line showing it.
fn label_and_text_columns(rendered: &str, needle: &str) -> (usize, usize) {
    let lines: Vec<&str> = rendered.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains(" │ ") && l.contains(needle))
        .unwrap_or_else(|| panic!("no line shows {needle:?}\n{rendered}"));
    let char_column = |line: &str, byte: usize| line[..byte].chars().count();
    let text = char_column(lines[at], lines[at].find(needle).unwrap());
    let underline = lines[at + 1];
    let first_dash = underline.find('─').or(underline.find('┬')).unwrap();
    (char_column(underline, first_dash), text)
}

#[test]
fn a_megabyte_line_is_shortened_around_the_label() {
    // Filling what the size guard admits, minus room for the rest of the file.
    let room = MAX_BYTES - 2_000;

    // A huge comment line above the error: a context line, shown by its start only.
    let text = one_port_error(&format!("    // {}", "a".repeat(room)), "    port 70000");
    assert!(text.len() <= MAX_BYTES);
    let source = Source::new("long-context.kdl", text.as_str());
    let rendered = single_error(&source, "strixc::agent::port_out_of_range");
    assert!(rendered.len() < 10_000, "{} bytes", rendered.len());
    assert!(rendered.contains("[long-context.kdl:38:10]"), "{rendered}");
    assert!(rendered.contains("not in 1..=65535"), "{rendered}");
    assert!(
        rendered.contains("    // aaaa") && rendered.contains('…'),
        "{rendered}"
    );

    // The error in the middle of a huge line: its column is the file's, its underline
    // stands under the port in the shortened line.
    let pad = "b".repeat(room / 2);
    let text = one_port_error("", &format!("    /* {pad} */ port 70000 /* {pad} */"));
    let source = Source::new("long-line.kdl", text.as_str());
    let rendered = single_error(&source, "strixc::agent::port_out_of_range");
    assert!(rendered.len() < 10_000, "{} bytes", rendered.len());
    let column = "    /* ".len() + pad.len() + " */ port ".len() + 1;
    assert!(
        rendered.contains(&format!("[long-line.kdl:38:{column}]")),
        "{rendered}"
    );
    let (label, port) = label_and_text_columns(&rendered, "70000");
    assert_eq!(
        label, port,
        "the underline is not under the port\n{rendered}"
    );

    // A label as long as the line: both its ends shown, its middle left out.
    let text = one_port_error(
        &format!("    role \"{}\\\\\"", "r".repeat(room)),
        "    port 8002",
    );
    let source = Source::new("long-span.kdl", text.as_str());
    let rendered = single_error(&source, "strixc::security::value_not_carried");
    assert!(rendered.len() < 10_000, "{} bytes", rendered.len());
    assert!(rendered.contains("[long-span.kdl:37:10]"), "{rendered}");
    assert!(
        rendered.contains("rrr\\\\\""),
        "the span's end is shown\n{rendered}"
    );
    assert!(rendered.contains("cannot be carried"), "{rendered}");
}

#[test]
fn a_file_of_too_many_lines_is_refused_before_parsing() {
    // A million one-letter nodes fit in 2 MiB and take the parser seconds: refused.
    let text = "a\n".repeat(MAX_LINES + 1);
    let source = Source::new("lines.kdl", text.as_str());
    let (ok, diagnostics) = compile_to_diagnostics(&source);
    assert!(!ok);
    let codes: Vec<&str> = diagnostics.iter().map(|d| d.problem.code()).collect();
    assert_eq!(codes, ["strixc::source::too_many_lines"]);

    // Past MAX_RENDERED problems, the rest are counted by code, not rendered one by one.
    let text = format!(
        "stack \"x\"\n{}",
        "a\n".repeat(strixc::diagnostic::MAX_RENDERED + 10)
    );
    let source = Source::new("many.kdl", text.as_str());
    let (_, diagnostics) = compile_to_diagnostics(&source);
    let rendered = report(&diagnostics, &source);
    assert!(rendered.contains("more not shown"), "{rendered}");
    assert!(
        rendered.matches("unknown node `a`").count() <= strixc::diagnostic::MAX_RENDERED,
        "{rendered}"
    );
}
