//! Agreement with the Linux verifier: every corpus program is loaded into the running
//! kernel (with real maps) and the verdicts are compared. Prints the agreement rate and
//! every disagreement: oxbpf accepting what Linux rejects (a soundness risk) and the
//! reverse (precision loss). A disagreement must be declared in the case (`kernel:` line,
//! with the reason); an undeclared one fails the test.

mod common;

use oxbpf_kernel::{create_map, load_raw, KernelError, LoadOptions, ProgType};
use oxbpf_verifier::verify;

fn kernel_verdict(c: &common::Case) -> Result<Result<(), String>, String> {
    let prog = c.program();
    let pt = common::prog_type(&c.prog_type)
        .linux_id()
        .and_then(ProgType::from_id)
        .ok_or("no kernel program type")?;
    let mut maps = Vec::new();
    for m in &c.maps {
        let ty = oxbpf_kernel::MapType::from_id(m.map_type.to_linux()).ok_or("map type")?;
        let mut spec =
            oxbpf_kernel::MapSpec::new(ty, m.key_size, m.value_size, m.max_entries, &m.name);
        spec.flags = m.flags;
        maps.push(create_map(&spec).map_err(|e| format!("creating map {}: {e}", m.name))?);
    }
    let mut opts = LoadOptions::new(pt).name("agreement");
    opts.maps = maps.iter().map(|m| m.raw_fd()).collect();
    match load_raw(&prog, &opts) {
        Ok(_) => Ok(Ok(())),
        Err(KernelError::Verifier { log, .. }) => {
            let last: Vec<&str> = log.lines().rev().take(3).collect();
            Ok(Err(last.into_iter().rev().collect::<Vec<_>>().join(" | ")))
        }
        Err(e) => Err(e.to_string()),
    }
}

/// The verdict the case declares for Linux (checked against the real one below).
fn kernel_ok_hint(c: &common::Case) -> bool {
    c.kernel_expect() == "accept"
}

#[test]
fn kernel_agreement() {
    if let Some(why) = oxbpf_kernel::probe::bpf_unavailable() {
        println!("SKIP: {why}");
        return;
    }
    let cases = common::load_all();
    let (mut compared, mut agree, mut compat_agree) = (0usize, 0usize, 0usize);
    let mut soundness = Vec::new();
    let mut precision = Vec::new();
    let mut undeclared = Vec::new();
    for c in &cases {
        if c.kernel_expect() == "skip" {
            continue;
        }
        let ours = verify(&c.program(), &c.config());
        // Linux with a privileged loader reads uninitialized stack; so does oxbpf when told.
        let mut compat = c.config();
        compat.allow_uninit_stack = true;
        if verify(&c.program(), &compat).is_ok() == kernel_ok_hint(c) {
            compat_agree += 1;
        }
        let kernel = match kernel_verdict(c) {
            Ok(k) => k,
            Err(e) => {
                undeclared.push(format!("{}: could not load into the kernel: {e}", c.name));
                continue;
            }
        };
        compared += 1;
        let kernel_ok = kernel.is_ok();
        if ours.is_ok() == kernel_ok {
            agree += 1;
        } else if ours.is_ok() {
            soundness.push(format!(
                "{}: oxbpf accepts, Linux rejects: {}",
                c.name,
                kernel.as_ref().err().cloned().unwrap_or_default()
            ));
        } else {
            precision.push(format!(
                "{}: oxbpf rejects ({}), Linux accepts",
                c.name,
                ours.as_ref()
                    .err()
                    .map(|e| e.message.clone())
                    .unwrap_or_default()
            ));
        }
        let declared = c.kernel_expect() == "accept";
        if declared != kernel_ok {
            undeclared.push(format!(
                "{}: the case says Linux should {}, but Linux {}: {}",
                c.name,
                c.kernel_expect(),
                if kernel_ok { "accepts" } else { "rejects" },
                kernel.err().unwrap_or_default()
            ));
        }
    }
    println!(
        "kernel agreement: {agree}/{compared} programs ({:.1}%) with the default configuration",
        100.0 * agree as f64 / compared.max(1) as f64
    );
    println!(
        "kernel agreement: {compat_agree}/{compared} programs ({:.1}%) with allow_uninit_stack \
         (what Linux allows privileged loaders)",
        100.0 * compat_agree as f64 / compared.max(1) as f64
    );
    println!(
        "oxbpf accepts, Linux rejects (soundness risk): {}",
        soundness.len()
    );
    for s in &soundness {
        println!("  {s}");
    }
    println!(
        "oxbpf rejects, Linux accepts (precision loss): {}",
        precision.len()
    );
    for s in &precision {
        println!("  {s}");
    }
    assert!(
        undeclared.is_empty(),
        "undeclared disagreements:\n{}",
        undeclared.join("\n")
    );
}
