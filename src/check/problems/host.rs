//! The host: memory, a unified GPU's share of it, podman, the kernel's module options.

use crate::diagnostic::problem;

problem! {
    ReserveAboveMemory { reserve: String, memory: String },
    code: "strixc::host::reserve_above_memory",
    message: "reserve {reserve} is not below the host's memory {memory}",
    label: "too large",
    help: "lower `reserve`",
}

problem! {
    GpuMemoryAboveHost { gpu: String, memory: String },
    code: "strixc::host::gpu_memory_above_host",
    message: "a unified GPU cannot have {gpu} when the host has {memory} in all",
    label: "larger than the host",
    help: "a unified GPU's memory is part of the host's: lower it",
}

problem! {
    PodmanTooOld { feature: &'static str, needs: String, declared: String },
    code: "strixc::host::podman_too_old",
    message: "{feature} needs podman {needs}, but the host declares podman {declared}",
    label: "needs a newer podman",
    help: "upgrade podman to {needs} or later and declare it with `podman \"{needs}\"`",
}

problem! {
    GttsizeDeprecated { pages_limit: u64, page_pool_size: u64 },
    code: "strixc::host::gttsize_deprecated",
    severity: Warning,
    message: "`amdgpu.gttsize` is deprecated in favour of `ttm.pages_limit`",
    label: "deprecated",
    help: "the kernel warns and plans to remove gttsize, and with it alone ROCm may see only about half the memory: write `module-option \"ttm\" \"pages_limit={pages_limit}\"` and `module-option \"ttm\" \"page_pool_size={page_pool_size}\"` (the same size in 4 KiB pages) instead",
}
