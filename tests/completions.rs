//! `strixc completions SHELL`: `--profile <TAB>` completes the profile names of the stack
//! file on the command line, read at completion time (bash run for real here; the zsh and
//! fish hooks are checked by the unit tests of `commands::completions`).

use std::process::Command;

fn strixc() -> &'static str {
    env!("CARGO_BIN_EXE_strixc")
}

/// Runs bash's completion function for `words` (the last one is the word being completed)
/// in `dir`, with this build's strixc first on PATH; returns the candidates.
fn complete(dir: &std::path::Path, script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE=\"${{COMP_WORDS[*]}}\"; \
         COMP_POINT=${{#COMP_LINE}}; _strixc strixc \"${{COMP_WORDS[COMP_CWORD]}}\" \
         \"${{COMP_WORDS[COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        quoted.join(" "),
        words.len() - 1
    );
    let bin_dir = std::path::Path::new(strixc()).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .current_dir(dir)
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completes_profile_names_of_the_stack_file() {
    let dir = tempfile::tempdir().unwrap();
    let stack = "stack \"s\"\nprofile \"standard\" default=#true {\n    agents \"a\"\n}\n\
                 profile \"odin\" {\n    agents \"a\"\n}\n";
    std::fs::write(dir.path().join("stack.kdl"), stack).unwrap();
    std::fs::write(
        dir.path().join("other.kdl"),
        stack.replace("\"odin\"", "\"frigga\""),
    )
    .unwrap();
    let out = Command::new(strixc())
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let script = dir.path().join("strixc.bash");
    std::fs::write(&script, &out.stdout).unwrap();

    let d = dir.path();
    assert_eq!(
        complete(d, &script, &["strixc", "apply", "--profile", ""]),
        ["standard", "odin"]
    );
    assert_eq!(
        complete(d, &script, &["strixc", "diff", "--profile", "o"]),
        ["odin"]
    );
    // `-f` names the stack whose profiles are offered.
    assert_eq!(
        complete(
            d,
            &script,
            &["strixc", "-f", "other.kdl", "budget", "--profile", ""]
        ),
        ["standard", "frigga"]
    );
    // No stack file: no candidates, no error.
    assert!(
        complete(
            d,
            &script,
            &["strixc", "-f", "nowhere.kdl", "apply", "--profile", ""]
        )
        .is_empty()
    );
}
