//! What the gateway (`strixc serve`) needs from activation: the installed generation's
//! manifest, the profile running now, and a switch of the current generation to another
//! profile with the same code as `apply` (ordering, waiting, failure handling and rollback),
//! installing nothing.

use super::generations;
use super::switch;
use super::{ApplyContext, ApplyOptions, ApplyReport};
use crate::activate::systemd::DbusSystemd;
use crate::error::Error;
use crate::tree::manifest::Manifest;

/// The current generation's number and manifest.
pub fn installed_manifest(ctx: &ApplyContext) -> Result<(u64, Manifest), Error> {
    let generation = generations::current(&ctx.layout.state_dir)?.ok_or_else(|| {
        Error::NothingApplied(format!(
            "nothing applied yet under {}: run `strixc apply` first",
            ctx.layout.state_dir.display()
        ))
    })?;
    Ok((generation.number, generation.manifest()?))
}

/// The profile whose target is active now (the first, should several be), if any.
pub fn active_profile(ctx: &ApplyContext, manifest: &Manifest) -> Result<Option<String>, Error> {
    let sd = DbusSystemd::connect(&ctx.bus)?;
    Ok(super::status::active_profiles(&sd, manifest)?
        .into_iter()
        .next())
}

/// Switches the current generation to `profile`, as `strixc rollback` switches to an
/// existing generation: the same activation, nothing built or installed (unless an
/// installed file differs from the generation's). On failure the generation's own profile
/// is put back, as after a failed `apply`.
pub fn switch_profile(
    ctx: &ApplyContext,
    profile: &str,
    opts: &ApplyOptions,
) -> Result<ApplyReport, Error> {
    let generation = generations::current(&ctx.layout.state_dir)?.ok_or_else(|| {
        Error::NothingApplied("nothing applied yet: no generation to switch".into())
    })?;
    switch::to_generation(ctx, &generation, profile, opts, generation.number)
}
