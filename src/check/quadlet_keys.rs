//! The keys podman's quadlet generator accepts in a `.container` file's `[Container]` and
//! `[Quadlet]` sections, each with the first podman release that knows it. quadlet refuses
//! a unit with any other key in those sections ("unsupported key"), so `check` does too.
//!
//! Taken from podman's source, pkg/systemd/quadlet/quadlet.go (`supportedContainerKeys`,
//! later `groupsInfo[ContainerGroup].SupportedKeys`, and `supportedQuadletKeys`), at the
//! tags v4.4.0 to v5.8.0: no key was removed in that range. `[Unit]`, `[Service]` and
//! `[Install]` are systemd's and passed through by quadlet; they are not listed here.

use crate::stack::PodmanVersion;

const V4_4: PodmanVersion = PodmanVersion::new(4, 4);
const V4_5: PodmanVersion = PodmanVersion::new(4, 5);
const V4_6: PodmanVersion = PodmanVersion::new(4, 6);
const V4_7: PodmanVersion = PodmanVersion::new(4, 7);
const V4_8: PodmanVersion = PodmanVersion::new(4, 8);
const V5_0: PodmanVersion = PodmanVersion::new(5, 0);
const V5_1: PodmanVersion = PodmanVersion::new(5, 1);
const V5_2: PodmanVersion = PodmanVersion::new(5, 2);
const V5_3: PodmanVersion = PodmanVersion::new(5, 3);
const V5_5: PodmanVersion = PodmanVersion::new(5, 5);
const V5_7: PodmanVersion = PodmanVersion::new(5, 7);
const V5_8: PodmanVersion = PodmanVersion::new(5, 8);

/// `[Container]` keys, each with the first release that accepts it.
#[rustfmt::skip]
pub const CONTAINER: &[(&str, PodmanVersion)] = &[
    // 4.4
    ("AddCapability", V4_4), ("AddDevice", V4_4), ("Annotation", V4_4), ("ContainerName", V4_4),
    ("DropCapability", V4_4), ("Environment", V4_4), ("EnvironmentFile", V4_4),
    ("EnvironmentHost", V4_4), ("Exec", V4_4), ("ExposeHostPort", V4_4), ("Group", V4_4),
    ("Image", V4_4), ("Label", V4_4), ("Network", V4_4), ("NoNewPrivileges", V4_4),
    ("Notify", V4_4), ("PodmanArgs", V4_4), ("PublishPort", V4_4), ("ReadOnly", V4_4),
    ("RemapGid", V4_4), ("RemapUid", V4_4), ("RemapUidSize", V4_4), ("RemapUsers", V4_4),
    ("RunInit", V4_4), ("SeccompProfile", V4_4), ("Timezone", V4_4), ("User", V4_4),
    ("VolatileTmp", V4_4), ("Volume", V4_4),
    // 4.5
    ("HealthCmd", V4_5), ("HealthInterval", V4_5), ("HealthOnFailure", V4_5),
    ("HealthRetries", V4_5), ("HealthStartPeriod", V4_5), ("HealthStartupCmd", V4_5),
    ("HealthStartupInterval", V4_5), ("HealthStartupRetries", V4_5),
    ("HealthStartupSuccess", V4_5), ("HealthStartupTimeout", V4_5), ("HealthTimeout", V4_5),
    ("IP", V4_5), ("IP6", V4_5), ("LogDriver", V4_5), ("Mount", V4_5), ("Rootfs", V4_5),
    ("Secret", V4_5), ("SecurityLabelDisable", V4_5), ("SecurityLabelFileType", V4_5),
    ("SecurityLabelLevel", V4_5), ("SecurityLabelType", V4_5), ("Tmpfs", V4_5),
    ("UserNS", V4_5),
    // 4.6
    ("AutoUpdate", V4_6), ("HostName", V4_6), ("Mask", V4_6), ("Pull", V4_6),
    ("SecurityLabelNested", V4_6), ("Sysctl", V4_6), ("Unmask", V4_6), ("WorkingDir", V4_6),
    // 4.7
    ("DNS", V4_7), ("DNSOption", V4_7), ("DNSSearch", V4_7), ("PidsLimit", V4_7),
    ("ShmSize", V4_7), ("Ulimit", V4_7),
    // 4.8
    ("ContainersConfModule", V4_8), ("GIDMap", V4_8), ("GlobalArgs", V4_8),
    ("ReadOnlyTmpfs", V4_8), ("SubGIDMap", V4_8), ("SubUIDMap", V4_8), ("UIDMap", V4_8),
    // 5.0
    ("Entrypoint", V5_0), ("Pod", V5_0), ("StopTimeout", V5_0),
    // 5.1
    ("GroupAdd", V5_1),
    // 5.2
    ("LogOpt", V5_2), ("NetworkAlias", V5_2), ("StopSignal", V5_2),
    // 5.3
    ("AddHost", V5_3), ("CgroupsMode", V5_3), ("HealthLogDestination", V5_3),
    ("HealthMaxLogCount", V5_3), ("HealthMaxLogSize", V5_3), ("ServiceName", V5_3),
    ("StartWithPod", V5_3),
    // 5.5
    ("Memory", V5_5), ("ReloadCmd", V5_5), ("ReloadSignal", V5_5), ("Retry", V5_5),
    ("RetryDelay", V5_5),
    // 5.7
    ("HttpProxy", V5_7),
    // 5.8
    ("AppArmor", V5_8),
];

/// `[Quadlet]` keys (the section itself arrived in 5.3).
pub const QUADLET: &[(&str, PodmanVersion)] = &[("DefaultDependencies", V5_3)];

/// The first podman that accepts `key` in `section` (`None`: no release does), for the
/// sections quadlet checks; version 0.0 for the sections it passes to systemd.
pub fn since(section: &str, key: &str) -> Option<PodmanVersion> {
    let table = match section {
        "Container" => CONTAINER,
        "Quadlet" => QUADLET,
        _ => return Some(PodmanVersion::new(0, 0)),
    };
    table
        .iter()
        .find(|(k, _)| *k == key)
        .map(|&(_, since)| since)
}

/// The keys `section` accepts in podman `version`, for "did you mean".
pub fn known(section: &str, version: PodmanVersion) -> impl Iterator<Item = &'static str> {
    let table = match section {
        "Container" => CONTAINER,
        "Quadlet" => QUADLET,
        _ => &[],
    };
    table
        .iter()
        .filter(move |&&(_, since)| since <= version)
        .map(|&(key, _)| key)
}
