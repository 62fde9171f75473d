// The built console is compiled in by `include_dir!`, which cargo does not
// track by itself: rebuild whenever a file under dist/ changes.
fn main() {
    println!("cargo:rerun-if-changed=dist");
}
