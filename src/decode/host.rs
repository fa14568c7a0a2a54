//! `host { memory; gpu; reserve; max-utilization; podman; swap; sysctl; earlyoom;
//! kernel-arg; module-option }`

use kdl::KdlNode;
use miette::SourceSpan;

use super::entries::Entries;
use super::{Seen, children, field, no_children, two_args, unknown_node, values};
use crate::decode::problems::{InvalidPodmanVersion, InvalidValue, MissingArgument, MissingField};
use crate::diagnostic::Diagnostics;
use crate::stack::{Earlyoom, Gpu, Host, PodmanVersion, Spanned, Swap, Text};

const FIELDS: [&str; 10] = [
    "memory",
    "gpu",
    "reserve",
    "max-utilization",
    "podman",
    "swap",
    "sysctl",
    "earlyoom",
    "kernel-arg",
    "module-option",
];

pub fn empty(span: SourceSpan) -> Host {
    Host {
        span,
        memory: None,
        gpu: None,
        reserve: None,
        max_utilization: None,
        podman: None,
        swap: None,
        sysctl: Vec::new(),
        earlyoom: None,
        kernel_args: Vec::new(),
        module_options: Vec::new(),
    }
}

pub fn decode(node: &KdlNode, d: &mut Diagnostics) -> Host {
    Entries::new(node).finish(0, &[], d);
    let mut host = empty(node.name().span());
    let mut seen = Seen::new();
    const HOST: &str = "`host`";
    for child in children(node) {
        let name = child.name().value();
        match name {
            "memory" => {
                if seen.first("memory", child, HOST, d) {
                    host.memory = field(child, "a size", d)
                        .and_then(|e| values::size(e, "host memory", false, d));
                }
            }
            "reserve" => {
                if seen.first("reserve", child, HOST, d) {
                    host.reserve = field(child, "a size", d)
                        .and_then(|e| values::size(e, "the reserve", true, d));
                }
            }
            "max-utilization" => {
                if seen.first("max-utilization", child, HOST, d) {
                    host.max_utilization = field(child, "a fraction", d)
                        .and_then(|e| values::fraction(e, "max-utilization", d));
                }
            }
            "podman" => {
                if seen.first("podman", child, HOST, d) {
                    host.podman = field(child, "a version", d).and_then(|e| podman_version(e, d));
                }
            }
            "gpu" => {
                if seen.first("gpu", child, HOST, d) {
                    host.gpu = gpu(child, d);
                }
            }
            "swap" => {
                if seen.first("swap", child, HOST, d) {
                    host.swap = swap(child, d);
                }
            }
            "earlyoom" => {
                if seen.first("earlyoom", child, HOST, d) {
                    host.earlyoom = Some(earlyoom(child, d));
                }
            }
            "sysctl" => host.sysctl.extend(pair(child, "a key and a value", d)),
            "module-option" => {
                host.module_options
                    .extend(pair(child, "a module and its option", d))
            }
            "kernel-arg" => {
                let arg = field(child, "a kernel argument", d)
                    .and_then(|e| values::string(e, "a kernel argument", d));
                host.kernel_args.extend(arg);
            }
            _ => unknown_node(child, HOST, &FIELDS, d),
        }
    }
    if host.memory.is_none() && !seen.0.contains(&"memory") {
        d.emit(
            MissingField {
                node: "`host`".into(),
                field: "memory",
            },
            node.name().span(),
        );
    }
    host
}

fn podman_version(entry: &kdl::KdlEntry, d: &mut Diagnostics) -> Option<Spanned<PodmanVersion>> {
    let text = values::string(entry, "the podman version", d)?;
    let mut parts = text.value.split('.');
    let major = parts.next().and_then(|p| p.parse().ok());
    let minor = parts.next().and_then(|p| p.parse().ok());
    let patch_ok = parts.next().is_none_or(|p| p.parse::<u32>().is_ok()) && parts.next().is_none();
    match (major, minor) {
        (Some(major), Some(minor)) if patch_ok => {
            Some(Spanned::new(PodmanVersion { major, minor }, text.span))
        }
        _ => {
            d.emit(InvalidPodmanVersion { value: text.value }, text.span);
            None
        }
    }
}

/// `gpu "gfx1151" memory="124GiB" unified=#true`
fn gpu(node: &KdlNode, d: &mut Diagnostics) -> Option<Gpu> {
    let mut entries = Entries::new(node);
    let arch = entries.arg(0);
    let memory = entries.prop("memory");
    let unified = entries.prop("unified");
    entries.finish(1, &["memory", "unified"], d);
    no_children(node, d);
    let memory = memory.and_then(|e| values::size(e, "GPU memory", false, d));
    if memory.is_none()
        && !node
            .entries()
            .iter()
            .any(|e| e.name().is_some_and(|n| n.value() == "memory"))
    {
        d.emit(
            MissingField {
                node: "`gpu`".into(),
                field: "memory",
            },
            node.name().span(),
        );
    }
    let unified = unified
        .and_then(|e| values::boolean(e, "unified", d))
        .is_none_or(|u| u.value);
    let Some(arch) = arch else {
        d.emit(
            MissingArgument {
                node: "gpu".into(),
                what: "the GPU's architecture, like \"gfx1151\"",
            },
            node.name().span(),
        );
        return None;
    };
    let arch = values::string(arch, "the GPU architecture", d)?;
    Some(Gpu {
        arch,
        memory,
        unified,
    })
}

/// `swap "/swap.img" size="128GiB"`
fn swap(node: &KdlNode, d: &mut Diagnostics) -> Option<Swap> {
    let mut entries = Entries::new(node);
    let path = entries.arg(0);
    let size = entries.prop("size");
    entries.finish(1, &["size"], d);
    no_children(node, d);
    let size = size.and_then(|e| values::size(e, "the swap size", false, d));
    let Some(path) = path else {
        d.emit(
            MissingArgument {
                node: "swap".into(),
                what: "the swap file's absolute path",
            },
            node.name().span(),
        );
        return None;
    };
    let path = values::string(path, "the swap path", d)?;
    if !path.value.starts_with('/') || path.value.split('/').any(|p| p == "..") {
        d.emit(
            InvalidValue {
                what: "swap path".into(),
                value: path.value.clone(),
                expected: vec!["an absolute path without `..`"],
                suggestion: None,
            },
            path.span,
        );
        return None;
    }
    Some(Swap { path, size })
}

/// `earlyoom prefer="regex" avoid="regex"`
fn earlyoom(node: &KdlNode, d: &mut Diagnostics) -> Earlyoom {
    let mut entries = Entries::new(node);
    let prefer = entries.prop("prefer");
    let avoid = entries.prop("avoid");
    entries.finish(0, &["prefer", "avoid"], d);
    no_children(node, d);
    Earlyoom {
        span: node.name().span(),
        prefer: prefer.and_then(|e| values::string(e, "earlyoom's prefer", d)),
        avoid: avoid.and_then(|e| values::string(e, "earlyoom's avoid", d)),
    }
}

/// `sysctl "vm.swappiness" "80"`, `module-option "ttm" "pages_limit=32505856"`: two texts.
fn pair(node: &KdlNode, what: &'static str, d: &mut Diagnostics) -> Option<(Text, Text)> {
    let (key, value) = two_args(node, what, d)?;
    let key = values::string(key, "a key", d);
    let value = values::scalar_text(value, "a value", d);
    let key = key.filter(|k| {
        let ok = !k.value.is_empty()
            && k.value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c));
        if !ok {
            d.emit(
                InvalidValue {
                    what: "key".into(),
                    value: k.value.clone(),
                    expected: vec!["letters, digits, '.', '_', '-', '/'"],
                    suggestion: None,
                },
                k.span,
            );
        }
        ok
    });
    Some((key?, value?))
}
