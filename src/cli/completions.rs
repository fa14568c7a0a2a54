//! `strixc completions SHELL`: clap's completion scripts, plus `--profile <TAB>` completing
//! the profile names of the stack file on the command line (`-f`, default `stack.kdl`).
//! The scripts ask `strixc complete-profiles` (hidden) at completion time, so the names are
//! always the file's current ones; no server, no generated list to keep in sync. Bash, zsh
//! and fish get the hook; other shells get clap's plain script.

use std::io::Write;

use clap_complete::Shell;

use crate::cli::args::Cli;
use crate::error::{Error, ExitCode};

/// The completion script for `shell`.
pub fn script(shell: Shell) -> String {
    let mut command = <Cli as clap::CommandFactory>::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "strixc", &mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    match shell {
        Shell::Bash => bash(&text),
        Shell::Zsh => zsh(&text),
        Shell::Fish => fish(&text),
        _ => text,
    }
}

const BASH_HELPER: &str = r#"_strixc_profiles() {
    local file=stack.kdl i
    for (( i = 1; i < COMP_CWORD; i++ )); do
        case "${COMP_WORDS[i]}" in
            -f|--file) file="${COMP_WORDS[i+1]}" ;;
        esac
    done
    "${COMP_WORDS[0]}" -f "$file" complete-profiles 2>/dev/null
}

"#;

fn bash(text: &str) -> String {
    let from =
        "                --profile)\n                    COMPREPLY=($(compgen -f \"${cur}\"))";
    let to = "                --profile)\n                    COMPREPLY=($(compgen -W \"$(_strixc_profiles)\" -- \"${cur}\"))";
    format!("{BASH_HELPER}{}", text.replace(from, to))
}

const ZSH_HELPER: &str = r#"(( $+functions[_strixc_profiles] )) ||
_strixc_profiles() {
    local file=stack.kdl i
    for (( i = 2; i < CURRENT; i++ )); do
        case $words[i] in
            -f|--file) file=$words[i+1] ;;
            --file=*) file=${words[i]#--file=} ;;
        esac
    done
    local -a profiles
    profiles=(${(f)"$(${words[1]} -f "$file" complete-profiles 2>/dev/null)"})
    compadd -a profiles
}

"#;

fn zsh(text: &str) -> String {
    let text: String = text
        .lines()
        .map(|line| {
            if line.starts_with("'--profile=") {
                line.replace(":NAME:_default'", ":NAME:_strixc_profiles'")
            } else {
                line.to_string()
            }
        })
        .map(|line| line + "\n")
        .collect();
    let tail = "if [ \"$funcstack[1]\" = \"_strixc\" ]; then";
    match text.rfind(tail) {
        Some(at) => format!("{}{ZSH_HELPER}{}", &text[..at], &text[at..]),
        None => text,
    }
}

const FISH_HELPER: &str = r#"function __strixc_profiles
    set -l tokens (commandline -opc)
    set -l file stack.kdl
    for i in (seq (count $tokens))
        switch $tokens[$i]
            case -f --file
                set -l j (math $i + 1)
                if test $j -le (count $tokens)
                    set file $tokens[$j]
                end
            case '--file=*'
                set file (string replace -- '--file=' '' $tokens[$i])
        end
    end
    $tokens[1] -f $file complete-profiles 2>/dev/null
end

"#;

fn fish(text: &str) -> String {
    let body: String = text
        .lines()
        .map(|line| {
            if line.contains(" -l profile ") && line.ends_with(" -r") {
                format!(
                    "{} -x -a '(__strixc_profiles)'",
                    line.trim_end_matches(" -r")
                )
            } else {
                line.to_string()
            }
        })
        .map(|line| line + "\n")
        .collect();
    format!("{FISH_HELPER}{body}")
}

/// `strixc complete-profiles`: the profile names of `-f FILE`, one a line, read straight
/// from its KDL (a stack with errors elsewhere still completes); nothing when unreadable.
pub fn profiles(cli: &Cli) -> Result<ExitCode, Error> {
    let Ok(text) = std::fs::read_to_string(&cli.file) else {
        return Ok(ExitCode::Ok);
    };
    let names = profile_names(&text);
    let mut stdout = std::io::stdout().lock();
    for name in names {
        let _ = writeln!(stdout, "{name}");
    }
    Ok(ExitCode::Ok)
}

fn profile_names(text: &str) -> Vec<String> {
    let Ok(doc) = kdl::KdlDocument::parse_v2(text) else {
        return Vec::new();
    };
    doc.nodes()
        .iter()
        .filter(|n| n.name().value() == "profile")
        .filter_map(|n| {
            n.entries()
                .iter()
                .find(|e| e.name().is_none())
                .and_then(|e| e.value().as_string())
                .map(str::to_string)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_profile_names_in_order() {
        let text = "stack \"s\"\nprofile \"standard\" default=#true {\n    agents \"a\"\n}\nprofile \"odin\" {\n}\n";
        assert_eq!(profile_names(text), ["standard", "odin"]);
        assert!(profile_names("profile {").is_empty());
    }

    #[test]
    fn every_profile_option_is_hooked_in_bash_zsh_and_fish() {
        let bash = script(Shell::Bash);
        // apply, diff and budget take --profile.
        assert_eq!(
            bash.matches("compgen -W \"$(_strixc_profiles)\"").count(),
            3
        );
        let zsh = script(Shell::Zsh);
        assert_eq!(zsh.matches(":NAME:_strixc_profiles'").count(), 3);
        assert!(zsh.contains("_strixc_profiles() {"));
        let fish = script(Shell::Fish);
        assert_eq!(fish.matches("-l profile").count(), 3);
        assert_eq!(fish.matches("-x -a '(__strixc_profiles)'").count(), 3);
    }
}
