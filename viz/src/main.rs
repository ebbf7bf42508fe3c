//! crowdtwin-viz: the 3D viewer. The Bevy scene, timeline and panels arrive
//! with the viewer issue; until then this binary says so and exits non-zero,
//! so nobody mistakes it for a working viewer.

fn main() {
    eprintln!(
        "crowdtwin-viz {}: the 3D viewer is not built yet (see ARCHITECTURE.md, `viz`). \
         Use `crowdtwin` for simulation runs.",
        env!("CARGO_PKG_VERSION")
    );
    std::process::exit(2);
}
