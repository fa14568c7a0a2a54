//! What the machine must offer before a switch touches anything: the devices the profile's
//! containers need, and, rootless, an OCI runtime that keeps the user's groups. Failing
//! here changes nothing; a missing device found only after the switch would make the
//! container fail within a quarter of a second, again at every restart.

use std::path::Path;
use std::process::Command;

use super::layout::Mode;
use crate::error::Error;
use crate::tree::manifest::{Manifest, ManifestProfile};

/// Problems that stop the switch (every one found), and notes to print beside the report.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Preflight {
    pub problems: Vec<String>,
    pub notes: Vec<String>,
}

/// Checks the agents of `profile` against this machine (only when activating: an image
/// built under `--root` is not the machine it will run on).
pub fn check(mode: Mode, manifest: &Manifest, profile: &ManifestProfile) -> Preflight {
    let mut out = Preflight::default();
    let agents = manifest
        .agents
        .iter()
        .filter(|a| profile.agents.contains(&a.name));
    let mut needs_groups = false;
    for agent in agents {
        for device in &agent.devices {
            if !Path::new(device).exists() {
                out.problems.push(format!(
                    "agent {} needs the device {device}, which does not exist on this machine \
                     (is its driver loaded? for /dev/kfd and /dev/dri: amdgpu)",
                    agent.name
                ));
            }
        }
        needs_groups |= !agent.devices.is_empty();
        if mode == Mode::System {
            for volume in agent.volumes.iter().filter(|v| v.contains("%h")) {
                out.notes.push(format!(
                    "agent {}: in system mode %h is root's home, so the volume {volume} is {}",
                    agent.name,
                    volume.replace("%h", "/root")
                ));
            }
        }
    }
    if mode == Mode::User
        && needs_groups
        && let Some(problem) = oci_runtime_problem(podman_runtime().as_deref())
    {
        out.problems.push(problem);
    }
    out
}

impl Preflight {
    pub fn into_result(self) -> Result<Vec<String>, Error> {
        if self.problems.is_empty() {
            Ok(self.notes)
        } else {
            Err(Error::Preflight(self.problems))
        }
    }
}

/// `podman info`'s OCI runtime name, if podman answers.
fn podman_runtime() -> Option<String> {
    let out = Command::new("podman")
        .args(["info", "--format", "{{.Host.OCIRuntime.Name}}"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Rootless, `GroupAdd=keep-groups` keeps the user's video/render groups only with crun:
/// runc drops them without a word, and the GPU devices become unreadable in the container.
fn oci_runtime_problem(runtime: Option<&str>) -> Option<String> {
    match runtime {
        Some("crun") | Some("krun") => None,
        Some(other) => Some(format!(
            "rootless containers keep the video/render groups (GroupAdd=keep-groups) only \
             with crun, and podman here runs {other}: set `runtime = \"crun\"` under \
             [engine] in ~/.config/containers/containers.conf (package crun)"
        )),
        None => Some(
            "podman does not answer `podman info`: install podman (5.0 or later) for \
             container agents"
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::manifest::ManifestAgent;

    fn manifest(devices: &[&str], volumes: &[&str]) -> (Manifest, ManifestProfile) {
        let profile = ManifestProfile {
            name: "p".into(),
            target: "t-p.target".into(),
            agents: vec!["a".into()],
        };
        let manifest = Manifest {
            generator: "strixc".into(),
            stack: "t".into(),
            default_profile: "p".into(),
            profiles: vec![profile.clone()],
            agents: vec![ManifestAgent {
                name: "a".into(),
                unit: "t-a.service".into(),
                devices: devices.iter().map(|d| d.to_string()).collect(),
                volumes: volumes.iter().map(|d| d.to_string()).collect(),
                ..Default::default()
            }],
            files: Default::default(),
            swap: None,
            gateway: None,
        };
        (manifest, profile)
    }

    #[test]
    fn a_missing_device_is_named_and_an_existing_one_passes() {
        let (m, p) = manifest(&["/dev/null", "/dev/strixc-absent"], &[]);
        let found = check(Mode::System, &m, &p);
        assert_eq!(found.problems.len(), 1, "{found:?}");
        assert!(found.problems[0].contains("agent a needs the device /dev/strixc-absent"));
    }

    #[test]
    fn home_volumes_are_explained_in_system_mode_only() {
        let (m, p) = manifest(&[], &["%h/.cache/huggingface"]);
        let system = check(Mode::System, &m, &p);
        assert_eq!(
            system.notes,
            [
                "agent a: in system mode %h is root's home, so the volume %h/.cache/huggingface is /root/.cache/huggingface"
            ]
        );
        assert!(check(Mode::User, &m, &p).notes.is_empty());
    }

    #[test]
    fn rootless_groups_need_crun() {
        assert_eq!(oci_runtime_problem(Some("crun")), None);
        assert!(
            oci_runtime_problem(Some("runc"))
                .unwrap()
                .contains("runtime = \"crun\"")
        );
        assert!(
            oci_runtime_problem(None)
                .unwrap()
                .contains("install podman")
        );
    }
}
