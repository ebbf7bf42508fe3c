//! crowdtwin-viz's integration tests: the data side (replay, live wire
//! format, visitor layout) and the viewer rendering without a window.

mod data;
mod live;
mod render;

use std::path::{Path, PathBuf};

/// The bundled Gangneung scenario.
pub fn scenario_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/gangneung-2018.toml")
}

/// An empty folder for one test.
pub fn temporary_folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("crowdtwin-viz-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `scenario` with `crowdtwin run`'s code into `out`.
pub fn run_into(scenario: &Path, out: &Path) {
    let options = crowdtwin_planner::run::RunOptions { seed: None, shards: 1, threads: 1, progress: false };
    crowdtwin_planner::run::run_file(scenario, out, &options).unwrap();
}

/// Runs the viewer binary; panics with a clear message when there is no
/// Vulkan driver, or with its stderr when it fails otherwise.
pub fn viewer(args: &[&str]) -> std::process::Output {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_crowdtwin-viz"))
        .args(args)
        .output()
        .expect("crowdtwin-viz runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("Unable to find a GPU") || stderr.contains("No suitable adapter") {
        panic!(
            "no Vulkan adapter: install Mesa's CPU Vulkan driver (`apt-get install -y mesa-vulkan-drivers libvulkan1`; \
             .ci/run does) or run on a machine with a GPU.\n{stderr}"
        );
    }
    assert!(output.status.success(), "crowdtwin-viz {args:?} failed:\n{stderr}");
    output
}
