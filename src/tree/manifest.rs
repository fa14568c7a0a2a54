//! `manifest.json`: what a generated tree holds and which units make up each profile.
//!
//! `write` prunes only files a previous manifest lists; `apply` reads it to know each
//! profile's target, each agent's unit and files (to restart only what changed) and where
//! to probe health.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The gateway's section: its plan, as apply and `strixc serve` read it.
pub use crate::plan::GatewayPlan as ManifestGateway;

use crate::error::Error;
use crate::tree::{Tree, is_safe_relative};

pub const MANIFEST_PATH: &str = "manifest.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// `strixc X.Y.Z`.
    pub generator: String,
    pub stack: String,
    pub default_profile: String,
    pub profiles: Vec<ManifestProfile>,
    pub agents: Vec<ManifestAgent>,
    /// Every file of the tree but the manifest itself, with its SHA-256 (hex).
    pub files: BTreeMap<String, String>,
    /// The stack's swap file, when it declares one (system mode enables and starts it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swap: Option<ManifestSwap>,
    /// The stack's gateway, when it declares one: what `strixc serve` reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<ManifestGateway>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestSwap {
    /// `swap.img.swap`.
    pub unit: String,
    pub path: String,
    /// Bytes, when the stack says how large to make it.
    pub size: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestProfile {
    pub name: String,
    /// The profile's systemd target, e.g. `norse-standard.target`.
    pub target: String,
    /// Agent names, in start order.
    pub agents: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ManifestAgent {
    pub name: String,
    /// The systemd unit that runs it, e.g. `norse-thor.service` (quadlet makes it from
    /// `norse-thor.container`).
    pub unit: String,
    /// Tree paths whose change means the agent must restart.
    pub files: Vec<String>,
    /// `http://127.0.0.1:8001/health`, or absent when the runtime declares no health check.
    pub health_url: Option<String>,
    pub port: u16,
    /// Host devices a container agent needs (`AddDevice=`): `apply` checks they exist.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
    /// Host sides of a container agent's volumes, as written (`%h/...` included).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
    /// The model id the server reports and expects in requests (the gateway rewrites a
    /// request that names the agent instead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served_model: Option<String>,
    /// The profile a gateway request for this agent switches to (`summon`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summon: Option<String>,
    /// How long systemd lets it start (its unit's `TimeoutStartSec=`, the runtime's health
    /// `start-period`), in seconds. Absent in manifests of older strixc versions:
    /// [`ManifestAgent::start_timeout`] falls back to the stack's default start period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_timeout_s: Option<u64>,
}

impl ManifestAgent {
    /// [`ManifestAgent::start_timeout_s`], or the default start period for an agent recorded
    /// by a strixc that did not write it.
    pub fn start_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(
            self.start_timeout_s
                .unwrap_or(crate::stack::defaults::HEALTH_START_PERIOD_MS.div_ceil(1000)),
        )
    }
}

impl Manifest {
    /// The one reader of `manifest.json` (`path` names it in errors): JSON of this shape
    /// whose file paths are all safe relative paths, so nothing strixc prunes because a
    /// manifest lists it can lie outside the tree.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Manifest, Error> {
        let manifest: Manifest =
            serde_json::from_slice(bytes).map_err(|source| Error::Manifest {
                path: path.to_owned(),
                source,
            })?;
        if let Some(file) = manifest.files.keys().find(|f| !is_safe_relative(f)) {
            return Err(Error::Io {
                what: "refusing a manifest path that leaves the tree:",
                path: path.to_owned(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{file:?}")),
            });
        }
        Ok(manifest)
    }

    /// The manifest of a tree in memory (an error when it has none). A stored generation's
    /// is read by `Generation::manifest`, which names its file.
    pub fn of_tree(tree: &Tree) -> Result<Manifest, Error> {
        let bytes = tree.get(MANIFEST_PATH).ok_or_else(|| Error::NoManifest {
            path: MANIFEST_PATH.into(),
        })?;
        Self::parse(bytes, Path::new(MANIFEST_PATH))
    }

    pub fn profile(&self, name: &str) -> Option<&ManifestProfile> {
        self.profiles.iter().find(|p| p.name == name)
    }

    pub fn agent(&self, name: &str) -> Option<&ManifestAgent> {
        self.agents.iter().find(|a| a.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ExitCode;

    #[test]
    fn a_tree_without_its_manifest_is_damage_not_a_usage_error() {
        let err = Manifest::of_tree(&Tree::new()).expect_err("no manifest");
        assert_eq!(err.exit_code(), ExitCode::System, "{err}");
        assert!(err.to_string().contains(MANIFEST_PATH), "{err}");
    }
}
