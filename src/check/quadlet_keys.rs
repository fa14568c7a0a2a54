//! The keys podman's quadlet generator accepts in a `.container` file's `[Container]` and
//! `[Quadlet]` sections, each with the first podman release that knows it. quadlet refuses
//! a unit with any other key in those sections ("unsupported key"), so `check` does too.
//!
//! Taken from podman's source, pkg/systemd/quadlet/quadlet.go (`supportedContainerKeys`,
//! later `groupsInfo[ContainerGroup].SupportedKeys`, and `supportedQuadletKeys`), at the
//! tags v4.4.0 to v5.8.0: no key was removed in that range. `[Unit]`, `[Service]` and
//! `[Install]` are systemd's and passed through by quadlet; they are not listed here.

/// `[Container]` keys: (key, major, minor) of the first release that accepts it.
#[rustfmt::skip]
pub const CONTAINER: &[(&str, u32, u32)] = &[
    // 4.4
    ("AddCapability", 4, 4), ("AddDevice", 4, 4), ("Annotation", 4, 4), ("ContainerName", 4, 4),
    ("DropCapability", 4, 4), ("Environment", 4, 4), ("EnvironmentFile", 4, 4),
    ("EnvironmentHost", 4, 4), ("Exec", 4, 4), ("ExposeHostPort", 4, 4), ("Group", 4, 4),
    ("Image", 4, 4), ("Label", 4, 4), ("Network", 4, 4), ("NoNewPrivileges", 4, 4),
    ("Notify", 4, 4), ("PodmanArgs", 4, 4), ("PublishPort", 4, 4), ("ReadOnly", 4, 4),
    ("RemapGid", 4, 4), ("RemapUid", 4, 4), ("RemapUidSize", 4, 4), ("RemapUsers", 4, 4),
    ("RunInit", 4, 4), ("SeccompProfile", 4, 4), ("Timezone", 4, 4), ("User", 4, 4),
    ("VolatileTmp", 4, 4), ("Volume", 4, 4),
    // 4.5
    ("HealthCmd", 4, 5), ("HealthInterval", 4, 5), ("HealthOnFailure", 4, 5),
    ("HealthRetries", 4, 5), ("HealthStartPeriod", 4, 5), ("HealthStartupCmd", 4, 5),
    ("HealthStartupInterval", 4, 5), ("HealthStartupRetries", 4, 5),
    ("HealthStartupSuccess", 4, 5), ("HealthStartupTimeout", 4, 5), ("HealthTimeout", 4, 5),
    ("IP", 4, 5), ("IP6", 4, 5), ("LogDriver", 4, 5), ("Mount", 4, 5), ("Rootfs", 4, 5),
    ("Secret", 4, 5), ("SecurityLabelDisable", 4, 5), ("SecurityLabelFileType", 4, 5),
    ("SecurityLabelLevel", 4, 5), ("SecurityLabelType", 4, 5), ("Tmpfs", 4, 5),
    ("UserNS", 4, 5),
    // 4.6
    ("AutoUpdate", 4, 6), ("HostName", 4, 6), ("Mask", 4, 6), ("Pull", 4, 6),
    ("SecurityLabelNested", 4, 6), ("Sysctl", 4, 6), ("Unmask", 4, 6), ("WorkingDir", 4, 6),
    // 4.7
    ("DNS", 4, 7), ("DNSOption", 4, 7), ("DNSSearch", 4, 7), ("PidsLimit", 4, 7),
    ("ShmSize", 4, 7), ("Ulimit", 4, 7),
    // 4.8
    ("ContainersConfModule", 4, 8), ("GIDMap", 4, 8), ("GlobalArgs", 4, 8),
    ("ReadOnlyTmpfs", 4, 8), ("SubGIDMap", 4, 8), ("SubUIDMap", 4, 8), ("UIDMap", 4, 8),
    // 5.0
    ("Entrypoint", 5, 0), ("Pod", 5, 0), ("StopTimeout", 5, 0),
    // 5.1
    ("GroupAdd", 5, 1),
    // 5.2
    ("LogOpt", 5, 2), ("NetworkAlias", 5, 2), ("StopSignal", 5, 2),
    // 5.3
    ("AddHost", 5, 3), ("CgroupsMode", 5, 3), ("HealthLogDestination", 5, 3),
    ("HealthMaxLogCount", 5, 3), ("HealthMaxLogSize", 5, 3), ("ServiceName", 5, 3),
    ("StartWithPod", 5, 3),
    // 5.5
    ("Memory", 5, 5), ("ReloadCmd", 5, 5), ("ReloadSignal", 5, 5), ("Retry", 5, 5),
    ("RetryDelay", 5, 5),
    // 5.7
    ("HttpProxy", 5, 7),
    // 5.8
    ("AppArmor", 5, 8),
];

/// `[Quadlet]` keys (the section itself arrived in 5.3).
pub const QUADLET: &[(&str, u32, u32)] = &[("DefaultDependencies", 5, 3)];

/// The first podman that accepts `key` in `section` (`None`: no release does), for the
/// sections quadlet checks; `Some((0, 0))` for the sections it passes to systemd.
pub fn since(section: &str, key: &str) -> Option<(u32, u32)> {
    let table = match section {
        "Container" => CONTAINER,
        "Quadlet" => QUADLET,
        _ => return Some((0, 0)),
    };
    table
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|&(_, major, minor)| (major, minor))
}

/// The keys `section` accepts in podman `version`, for "did you mean".
pub fn known(section: &str, version: (u32, u32)) -> impl Iterator<Item = &'static str> {
    let table = match section {
        "Container" => CONTAINER,
        "Quadlet" => QUADLET,
        _ => &[],
    };
    table
        .iter()
        .filter(move |&&(_, major, minor)| (major, minor) <= version)
        .map(|&(key, _, _)| key)
}
