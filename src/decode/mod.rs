//! KDL document → typed `Stack`. Hand-written (kdl's serde path loses spans and stops at
//! the first error): every problem is recorded and decoding goes on, so one run of
//! `strixc check` shows them all. One file per node kind, each with the table of the
//! children it takes (`fields.rs` walks them); `node.rs` and `values.rs` read lines and
//! values; `document.rs` decodes the whole file.

mod agent;
mod document;
mod entries;
mod fields;
mod gateway;
mod host;
mod model;
mod node;
pub mod problems;
mod profile;
mod quadlet;
mod runtime;
mod values;

pub use fields::FieldDoc;

use kdl::KdlDocument;

use crate::diagnostic::Diagnostics;
use crate::stack::Stack;

/// Decodes the whole document. Always returns a stack, possibly partial; whether it can be
/// trusted is `!diagnostics.has_errors()`.
pub fn decode(document: &KdlDocument, d: &mut Diagnostics) -> Stack {
    document::decode(document, d)
}

/// The stack language: each node and the children it takes, as the decoders' tables
/// say (`""` is the file itself, whose children are the top-level nodes).
pub fn reference() -> Vec<(&'static str, Vec<FieldDoc>)> {
    use fields::docs;
    vec![
        ("", docs(&document::TOP_LEVEL)),
        ("stack", docs(&document::STACK)),
        ("host", docs(&host::FIELDS)),
        ("runtime", docs(&runtime::FIELDS)),
        ("model", docs(&model::FIELDS)),
        ("agent", docs(&agent::FIELDS)),
        ("profile", docs(&profile::FIELDS)),
        ("gateway", docs(&gateway::FIELDS)),
    ]
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::source::{Source, parse};

    /// The stack `text` decodes to, and the codes of what decoding reported.
    fn decode_text(text: &str) -> (Stack, Vec<&'static str>) {
        let mut d = Diagnostics::new();
        let document = parse::parse(&Source::new("t.kdl", text), &mut d).expect("parses");
        let stack = decode(&document, &mut d);
        let codes = d.iter().map(|x| x.problem.code()).collect();
        (stack, codes)
    }

    const AGENT: &str = r#"
        stack "s"
        host { memory "128GiB" }
        agent "thor" {
            model "m"
            port 8001
            context 32768
            after "odin" "loki"
            after "frigg"
            quadlet "Service" "Nice" "5"
        }
    "#;

    #[test]
    fn an_agents_fields_land_in_its_struct() {
        let (stack, codes) = decode_text(AGENT);
        assert_eq!(codes, Vec::<&str>::new());
        let thor = stack.agent("thor").unwrap();
        assert_eq!(thor.model.as_ref().unwrap().value, "m");
        assert_eq!(thor.port.as_ref().unwrap().value, 8001);
        assert_eq!(thor.context.as_ref().unwrap().value, 32768);
        let after: Vec<&str> = thor.after.iter().map(|a| a.as_str()).collect();
        assert_eq!(
            after,
            ["odin", "loki", "frigg"],
            "a repeatable field adds up"
        );
        assert_eq!(thor.quadlet[0].key.value, "Nice");
        assert_eq!(thor.max_seqs, None);
    }

    #[test]
    fn the_driver_reports_unknown_twice_set_and_missing_fields() {
        let text = AGENT
            .replace("port 8001", "port 8001\n port 8002\n prot 1")
            .replace("context 32768", "");
        let (stack, codes) = decode_text(&text);
        assert_eq!(
            codes,
            [
                "strixc::decode::duplicate_field",
                "strixc::decode::unknown_node",
                "strixc::decode::missing_field",
            ]
        );
        let thor = stack.agent("thor").unwrap();
        assert_eq!(
            thor.port.as_ref().unwrap().value,
            8001,
            "the first one counts"
        );
    }

    #[test]
    fn cpu_weight_is_a_whole_number_from_1_to_10000() {
        let with = |weight: &str| {
            decode_text(&AGENT.replace("port 8001", &format!("port 8001\n cpu-weight {weight}")))
        };
        let (stack, codes) = with("10000");
        assert!(codes.is_empty(), "{codes:?}");
        let weight = stack
            .agent("thor")
            .unwrap()
            .cpu_weight
            .as_ref()
            .map(|w| w.value);
        assert_eq!(weight, Some(10_000));
        assert_eq!(decode_text(AGENT).0.agent("thor").unwrap().cpu_weight, None);
        for (weight, code) in [
            ("0", "strixc::decode::not_positive"),
            ("10001", "strixc::decode::out_of_range"),
            ("\"high\"", "strixc::decode::wrong_type"),
        ] {
            let (stack, codes) = with(weight);
            assert_eq!(codes, [code], "{weight}");
            assert_eq!(stack.agent("thor").unwrap().cpu_weight, None);
        }
    }

    #[test]
    fn gpu_memory_is_missing_only_when_not_written() {
        let with = |gpu: &str| {
            decode_text(&AGENT.replace(
                "host { memory \"128GiB\" }",
                &format!("host {{\n memory \"128GiB\"\n {gpu}\n}}"),
            ))
        };
        let (stack, codes) = with(r#"gpu "gfx1151" memory="124GiB""#);
        assert!(codes.is_empty(), "{codes:?}");
        let memory = stack.host.gpu.as_ref().and_then(|g| g.memory.as_ref());
        assert_eq!(memory.map(|m| m.value), Some(124 << 30));
        let (_, codes) = with(r#"gpu "gfx1151" unified=#true"#);
        assert_eq!(codes, ["strixc::decode::missing_field"]);
        let (stack, codes) = with(r#"gpu "gfx1151" memory="lots""#);
        assert!(
            !codes.contains(&"strixc::decode::missing_field"),
            "{codes:?}"
        );
        assert_eq!(codes.len(), 1, "{codes:?}");
        assert!(stack.host.gpu.unwrap().memory.is_none());
    }

    /// Each table's names once, each doc one line.
    #[test]
    fn the_tables_are_well_formed() {
        for (node, fields) in reference() {
            let names: BTreeSet<&str> = fields.iter().map(|f| f.name).collect();
            assert_eq!(names.len(), fields.len(), "{node}: a name twice");
            for field in &fields {
                assert!(
                    !field.doc.is_empty() && !field.doc.contains('\n'),
                    "{node} {}: one line of doc",
                    field.name
                );
                assert!(!(field.required && field.repeatable), "{}", field.name);
            }
        }
    }

    /// README's stack-language table: the node (first column) and the fields in its second
    /// column: the first word of each `code span` outside parentheses (those are notes,
    /// which may name values or other nodes' fields).
    fn readme_reference() -> Vec<(String, BTreeSet<String>)> {
        let readme = include_str!("../../README.md");
        let section = readme
            .split("## The stack language")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .expect("README has a stack-language section");
        let codes = |cell: &str| -> Vec<String> {
            let (mut depth, mut code, mut words) = (0, None::<String>, Vec::new());
            for c in cell.chars() {
                match (c, &mut code) {
                    ('`', Some(text)) => {
                        let word: String = text
                            .chars()
                            .take_while(|c| c.is_ascii_lowercase() || *c == '-')
                            .collect();
                        if depth == 0 && !word.is_empty() {
                            words.push(word);
                        }
                        code = None;
                    }
                    ('`', None) => code = Some(String::new()),
                    (c, Some(text)) => text.push(c),
                    ('(', None) => depth += 1,
                    (')', None) => depth -= 1,
                    _ => {}
                }
            }
            words
        };
        section
            .lines()
            .filter(|line| line.starts_with("| `"))
            .map(|line| {
                let cells: Vec<&str> = line.split(" | ").collect();
                let node = codes(cells[0]).remove(0);
                (node, codes(cells[1]).into_iter().collect())
            })
            .collect()
    }

    /// The README documents exactly the fields the decoders take, for every node.
    #[test]
    fn readme_lists_exactly_each_tables_fields() {
        let readme = readme_reference();
        for (node, fields) in reference() {
            let names: BTreeSet<String> = fields.iter().map(|f| f.name.to_owned()).collect();
            let documented: BTreeSet<String> = if node.is_empty() {
                readme.iter().map(|(n, _)| n.clone()).collect()
            } else {
                let row = readme.iter().find(|(n, _)| n == node);
                row.unwrap_or_else(|| panic!("README has no row for `{node}`"))
                    .1
                    .clone()
            };
            assert_eq!(documented, names, "README's row for `{node}` vs its table");
        }
    }
}
