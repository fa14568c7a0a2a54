//! The host's own numbers and the podman it declares.

use crate::check::problems::{
    GpuMemoryAboveHost, GttsizeDeprecated, PodmanTooOld, ReserveAboveMemory,
};
use crate::diagnostic::Diagnostics;
use crate::stack::{Launch, PodmanVersion, Stack};

/// Quadlet arrived in podman 4.4; its health keys (`HealthStartupCmd`, `HealthOnFailure`) in 4.5.
pub const QUADLET_SINCE: PodmanVersion = PodmanVersion::new(4, 4);
pub const HEALTH_KEYS_SINCE: PodmanVersion = PodmanVersion::new(4, 5);

pub fn check(stack: &Stack, d: &mut Diagnostics) {
    let host = &stack.host;
    if let (Some(memory), Some(reserve)) = (&host.memory, &host.reserve)
        && reserve.value >= memory.value
    {
        d.emit(
            ReserveAboveMemory {
                reserve: crate::stack::quantity::format_gib(reserve.value),
                memory: crate::stack::quantity::format_gib(memory.value),
            },
            reserve.span,
        );
    }
    if let (Some(memory), Some(gpu)) = (&host.memory, &host.gpu)
        && let Some(gpu_memory) = gpu
            .memory
            .as_ref()
            .filter(|m| gpu.unified && m.value > memory.value)
    {
        d.emit(
            GpuMemoryAboveHost {
                gpu: crate::stack::quantity::format_gib(gpu_memory.value),
                memory: crate::stack::quantity::format_gib(memory.value),
            },
            gpu_memory.span,
        );
    }
    podman(stack, d);
    gttsize(stack, d);
}

/// `module-option "amdgpu" "gttsize=MiB"`: deprecated for `ttm.pages_limit` (4 KiB pages);
/// the warning names the `ttm` options that give the same size.
fn gttsize(stack: &Stack, d: &mut Diagnostics) {
    for (module, option) in &stack.host.module_options {
        if module.value != "amdgpu" {
            continue;
        }
        let Some(mib) = option.value.strip_prefix("gttsize=") else {
            continue;
        };
        // gttsize=-1 (the driver's default) sets nothing: no equivalent to name.
        let Some(pages) = mib
            .trim()
            .parse::<u64>()
            .ok()
            .and_then(|m| m.checked_mul(256))
        else {
            continue;
        };
        d.emit(
            GttsizeDeprecated {
                pages_limit: pages,
                page_pool_size: pages,
            },
            option.span,
        );
    }
}

fn podman(stack: &Stack, d: &mut Diagnostics) {
    let Some(declared) = &stack.host.podman else {
        return;
    };
    let containers: Vec<_> = stack
        .runtimes
        .iter()
        .filter(|r| matches!(r.launch, Some(Launch::Container { .. })))
        .collect();
    if containers.is_empty() {
        return;
    }
    let too_old = |feature: &'static str, since: PodmanVersion| {
        (declared.value < since).then(|| PodmanTooOld {
            feature,
            needs: since.to_string(),
            declared: declared.value.to_string(),
        })
    };
    if let Some(kind) = too_old("quadlet (.container units)", QUADLET_SINCE) {
        d.emit(kind, declared.span);
        return;
    }
    if containers.iter().any(|r| r.health.is_some())
        && let Some(kind) = too_old(
            "checking health in quadlet units (HealthStartupCmd, HealthOnFailure=kill)",
            HEALTH_KEYS_SINCE,
        )
    {
        d.emit(kind, declared.span);
    }
}
