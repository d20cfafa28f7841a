//! A binary run with its working directory on a read-only mount, as on Kubernetes
//! (`readOnlyRootFilesystem: true`): `unshare --mount --map-root-user` (util-linux) makes a mount
//! namespace in which a temporary folder is bind-mounted onto itself and remounted read-only, so
//! that even root cannot write there. Where the sandbox cannot be made, the tests fail and say
//! why; they never pass without having run.

use std::path::Path;

use tokio::process::Command;

/// An exit code of the sandbox script itself, never of the binary.
pub const SANDBOX_FAILED: i32 = 97;

/// Runs as `sh -c` inside the new mount namespace: `$1` is the folder to make read-only and the
/// working directory, the rest the command. It checks that the folder really refuses writes
/// before it hands over (`exec`, so the binary keeps the PID a test signals).
const SANDBOX: &str = r#"
dir=$1; shift
fail() { echo "read-only sandbox: $*" >&2; exit 97; }
mount --bind "$dir" "$dir" || fail "cannot bind-mount $dir"
mount -o remount,bind,ro "$dir" || fail "cannot remount $dir read-only"
cd "$dir" || fail "cannot enter $dir"
if (: > .write-test) 2>/dev/null; then fail "$dir is still writable after the read-only remount"; fi
exec "$@"
"#;

/// `program` with no environment but `PATH`, its working directory the read-only `cwd`; add its
/// arguments and environment to the command returned.
pub fn command(cwd: &Path, program: &str) -> Command {
    let mut command = Command::new("unshare");
    command
        .env_clear()
        // For `unshare`, `sh` and `mount`; harmless to the binary.
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .args([
            "--mount",
            "--map-root-user",
            "--",
            "sh",
            "-c",
            SANDBOX,
            "sh",
        ])
        .arg(cwd)
        .arg(program)
        .kill_on_drop(true);
    command
}

/// Fails the test, loudly, when the sandbox could not be made (the binary never ran).
pub fn assert_sandbox_ran(code: Option<i32>, stderr: &str) {
    assert!(
        code != Some(SANDBOX_FAILED) && !stderr.starts_with("unshare:"),
        "cannot run the binary in a read-only working directory (these tests need \
         `unshare --mount --map-root-user` from util-linux: root, or unprivileged user \
         namespaces enabled): {stderr}"
    );
}
