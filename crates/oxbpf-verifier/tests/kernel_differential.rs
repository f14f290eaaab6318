//! Differential test against the Linux verifier on random programs (see
//! `common/gen.rs`): oxbpf must never accept what Linux rejects. The number of programs is
//! `OXBPF_DIFF_COUNT` (default 300), the first seed `OXBPF_DIFF_SEED` (default 1).

mod common;

use common::gen::{program, Rng};
use oxbpf_kernel::{create_map, load_raw, KernelError, LoadOptions, ProgType};
use oxbpf_verifier::{verify, MapSpec, MapType, ProgramType, VerifierConfig};

#[test]
fn kernel_differential() {
    if let Some(why) = oxbpf_kernel::probe::bpf_unavailable() {
        println!("SKIP: {why}");
        return;
    }
    let count: u64 = std::env::var("OXBPF_DIFF_COUNT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let seed0: u64 = std::env::var("OXBPF_DIFF_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let spec = oxbpf_kernel::MapSpec::new(oxbpf_kernel::MapType::Hash, 4, 16, 16, "diff");
    let map = create_map(&spec).expect("map");
    let rb = create_map(&oxbpf_kernel::MapSpec::new(
        oxbpf_kernel::MapType::Ringbuf,
        0,
        0,
        4096,
        "diffrb",
    ))
    .expect("ring buffer");
    let mut conf = VerifierConfig::new(ProgramType::Xdp).with_maps(vec![
        MapSpec::new("diff", MapType::Hash, 4, 16, 16),
        MapSpec::new("diffrb", MapType::Ringbuf, 0, 0, 4096),
    ]);
    // Compare like with like: a privileged Linux loader may read uninitialized stack.
    conf.allow_uninit_stack = true;
    let mut opts = LoadOptions::new(ProgType::Xdp).name("diff");
    opts.maps = vec![map.raw_fd(), rb.raw_fd()];
    let (mut both_ok, mut both_bad, mut precision) = (0, 0, 0);
    let mut unsound = Vec::new();
    for seed in seed0..seed0 + count {
        let mut rng = Rng::new(seed);
        let src = program(&mut rng);
        let prog = oxbpf_isa::assemble(&src).expect("generated programs assemble");
        let ours = verify(&prog, &conf);
        // Pruning only saves work: it must never change the verdict.
        let mut unpruned = conf.clone();
        unpruned.disable_pruning = true;
        unpruned.max_insns = 200_000;
        let full = verify(&prog, &unpruned);
        let too_complex = |r: &Result<
            oxbpf_verifier::Verified,
            Box<oxbpf_verifier::VerifyError>,
        >| {
            matches!(r, Err(e) if e.kind == oxbpf_verifier::ErrorKind::TooComplex)
        };
        if !too_complex(&full) && full.is_ok() != ours.is_ok() {
            unsound.push(format!(
                "seed {seed}: pruning changed the verdict (pruned: {}, unpruned: {})\n{src}\n",
                ours.is_ok(),
                full.is_ok()
            ));
        }
        let kernel = match load_raw(&prog, &opts) {
            Ok(_) => Ok(()),
            Err(KernelError::Verifier { log, .. }) => {
                Err(log.lines().rev().nth(1).unwrap_or("").to_string())
            }
            Err(e) => panic!("seed {seed}: load failed: {e}"),
        };
        match (&ours, &kernel) {
            (Ok(_), Ok(_)) => both_ok += 1,
            (Err(_), Err(_)) => both_bad += 1,
            (Err(e), Ok(_)) => {
                precision += 1;
                if std::env::var_os("OXBPF_DIFF_VERBOSE").is_some() {
                    println!("seed {seed}: precision loss: {}\n{src}\n", e.message);
                }
            }
            (Ok(_), Err(k)) => unsound.push(format!("seed {seed}: Linux: {k}\n{src}\n")),
        }
    }
    println!(
        "{count} random programs: both accept {both_ok}, both reject {both_bad}, only Linux \
         accepts {precision}, only oxbpf accepts {}",
        unsound.len()
    );
    assert!(
        unsound.is_empty(),
        "oxbpf accepts what Linux rejects:\n{}",
        unsound.join("\n")
    );
}
