//! Development aid for the golden corpus: verifies corpus-format files
//! (`tests/corpus/*.test`) and prints the verdict, the time and the statistics or the full
//! report. `LOG=1` prints the state trace, `NOPRUNE=1` disables pruning, `UNINIT=1` allows
//! uninitialized stack reads.
//!
//! ```text
//! cargo run -p oxbpf-verifier --example vcheck -- crates/oxbpf-verifier/tests/corpus/pkt_checked.test
//! ```
#[path = "../tests/common/mod.rs"]
mod common;

fn main() {
    for a in std::env::args().skip(1) {
        let c = common::parse(std::path::Path::new(&a));
        let t = std::time::Instant::now();
        let mut conf = c.config();
        conf.disable_pruning = std::env::var_os("NOPRUNE").is_some();
        conf.allow_uninit_stack = std::env::var_os("UNINIT").is_some();
        let (r, log) = oxbpf_verifier::verify_with_log(&c.program(), &conf);
        let dt = t.elapsed();
        match r {
            Ok(v) => println!("{}: accept in {dt:?} {:?}", c.name, v.stats),
            Err(e) => println!("{}: reject in {dt:?}\n{}", c.name, e.report()),
        }
        if std::env::var_os("LOG").is_some() {
            println!("{log}");
        }
    }
}
