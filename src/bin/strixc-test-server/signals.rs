//! SIGTERM as a container's PID 1.

const SIGTERM: i32 = 15;
const SIGINT: i32 = 2;

unsafe extern "C" {
    fn signal(signum: i32, handler: usize) -> usize;
    fn _exit(status: i32) -> !;
}

extern "C" fn on_term(_: i32) {
    // Only async-signal-safe calls here: write(2) through a raw fd is not in std, so say
    // nothing and leave at once. 143 = 128 + SIGTERM, what a shell reports for it.
    unsafe { _exit(143) }
}

/// As PID 1 of a container, a signal without a handler is ignored: install one, so that
/// `podman stop` (SIGTERM) ends the server at once instead of after the stop timeout. Only
/// there: anywhere else SIGTERM's default action ends the process *by the signal*, which
/// systemd counts as a clean stop (an exit status of 143 would be a failure).
pub fn exit_on_sigterm_as_pid1() {
    if std::process::id() != 1 {
        return;
    }
    let handler = on_term as extern "C" fn(i32) as usize;
    unsafe {
        signal(SIGTERM, handler);
        signal(SIGINT, handler);
    }
}
