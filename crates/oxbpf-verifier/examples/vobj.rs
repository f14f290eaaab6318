//! Development aid: verify every program of the ELF objects given on the command line.
use oxbpf_verifier::{verify, VerifierConfig};

fn main() {
    for a in std::env::args().skip(1) {
        let bytes = std::fs::read(&a).expect("read");
        let obj = match oxbpf_obj::Object::parse(&bytes) {
            Ok(o) => o,
            Err(e) => {
                println!("{a}: cannot parse: {e}");
                continue;
            }
        };
        for p in &obj.programs {
            let conf = match VerifierConfig::for_object_program(&obj, p) {
                Ok(c) => c,
                Err(e) => {
                    println!("{a}: {e}");
                    continue;
                }
            };
            let t = std::time::Instant::now();
            match verify(&p.insns, &conf) {
                Ok(v) => println!(
                    "{a}: {}: accept ({} insns, {:?})",
                    p.name,
                    v.stats.insns_processed,
                    t.elapsed()
                ),
                Err(e) => println!("{a}: {}: REJECT\n{}", p.name, e.report()),
            }
        }
    }
}
