//! Development aid: print a corpus file's program as hex bytes.
#[path = "../tests/common/mod.rs"]
mod common;

fn main() {
    for a in std::env::args().skip(1) {
        let c = common::parse(std::path::Path::new(&a));
        let b = c.program().to_bytes();
        println!(
            "{}",
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        );
    }
}
