//! `host { ... }`: the machine the stack runs on, and its tuning.

use kdl::{KdlEntry, KdlNode};

use super::fields::{self, Field, field};
use super::node::{missing_argument, optional_arg_and_props, props_only, two_args};
use super::values;
use crate::decode::problems::{InvalidPodmanVersion, MissingField};
use crate::diagnostic::Diagnostics;
use crate::stack::{Earlyoom, Gpu, Host, PodmanVersion, Spanned, Swap, Text};

pub static FIELDS: [Field<Host>; 10] = [
    field("memory", "the memory CPU and GPU share")
        .expects("a size")
        .required()
        .one(|h, e, d| h.memory = values::size(e, "host memory", false, d)),
    field("gpu", "the GPU: architecture, memory, unified").node(|h, node, d| h.gpu = gpu(node, d)),
    field("reserve", "memory never given to an agent")
        .expects("a size")
        .one(|h, e, d| h.reserve = values::size(e, "the reserve", true, d)),
    field("max-utilization", "the largest share one agent may take")
        .expects("a fraction")
        .one(|h, e, d| h.max_utilization = values::fraction(e, "max-utilization", d)),
    field("podman", "the podman version the units are for")
        .expects("a version")
        .one(|h, e, d| h.podman = podman_version(e, d)),
    field("swap", "a swap file and its size").node(|h, node, d| h.swap = swap(node, d)),
    field("sysctl", "a kernel setting")
        .many(|h, node, d| h.sysctl.extend(pair(node, "a key and a value", d))),
    field("earlyoom", "what earlyoom kills first and last")
        .node(|h, node, d| h.earlyoom = Some(earlyoom(node, d))),
    field("kernel-arg", "a kernel command-line argument")
        .expects("a kernel argument")
        .each(|h, e, d| {
            h.kernel_args
                .extend(values::string(e, "a kernel argument", d))
        }),
    field("module-option", "a kernel module's option").many(|h, node, d| {
        h.module_options
            .extend(pair(node, "a module and its option", d))
    }),
];

pub fn decode(node: &KdlNode, d: &mut Diagnostics) -> Host {
    let host = Host {
        span: node.name().span(),
        ..Host::default()
    };
    fields::block(node, "`host`", &FIELDS, host, d)
}

fn podman_version(entry: &KdlEntry, d: &mut Diagnostics) -> Option<Spanned<PodmanVersion>> {
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
    let (arch, [memory, unified]) = optional_arg_and_props(node, ["memory", "unified"], d);
    // Missing only when not written: a value that is written but wrong is reported as such.
    if memory.is_none() {
        d.emit(
            MissingField {
                node: "`gpu`".into(),
                field: "memory",
            },
            node.name().span(),
        );
    }
    let memory = memory.and_then(|e| values::size(e, "GPU memory", false, d));
    let unified = unified
        .and_then(|e| values::boolean(e, "unified", d))
        .is_none_or(|u| u.value);
    let Some(arch) = arch else {
        missing_argument(node, "the GPU's architecture, like \"gfx1151\"", d);
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
    let (path, [size]) = optional_arg_and_props(node, ["size"], d);
    let size = size.and_then(|e| values::size(e, "the swap size", false, d));
    let Some(path) = path else {
        missing_argument(node, "the swap file's absolute path", d);
        return None;
    };
    let path = values::string(path, "the swap path", d)?;
    if !path.value.starts_with('/') || path.value.split('/').any(|p| p == "..") {
        values::invalid(
            "swap path",
            &path.value,
            "an absolute path without `..`",
            path.span,
            d,
        );
        return None;
    }
    Some(Swap { path, size })
}

/// `earlyoom prefer="regex" avoid="regex"`
fn earlyoom(node: &KdlNode, d: &mut Diagnostics) -> Earlyoom {
    let [prefer, avoid] = props_only(node, ["prefer", "avoid"], d);
    Earlyoom {
        span: node.name().span(),
        prefer: prefer.and_then(|e| values::string(e, "earlyoom's prefer", d)),
        avoid: avoid.and_then(|e| values::string(e, "earlyoom's avoid", d)),
    }
}

/// `sysctl "vm.swappiness" "80"`, `module-option "ttm" "pages_limit=32505856"`: two texts.
fn pair(node: &KdlNode, what: &'static str, d: &mut Diagnostics) -> Option<(Text, Text)> {
    let (key, value) = two_args(node, what, d)?;
    let (key, value) = values::text_pair(key, value, ("a key", "a value"), d);
    let key = key.and_then(|k| {
        let valid = values::is_word(&k.value, "._-/");
        values::checked(k, valid, "key", "letters, digits, '.', '_', '-', '/'", d)
    });
    Some((key?, value?))
}
