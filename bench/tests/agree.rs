//! Every engine of this build returns the native result for every benchmark program (the
//! kernel's 32-bit result is compared on its low 32 bits), and the engines agree with each
//! other on a generated program. Correctness only: nothing here is timed.

use oxbpf_bench::engines;
use oxbpf_bench::gen::generated_program;
use oxbpf_bench::programs::{Workload, PROGRAMS};
use oxbpf_bench::Input;

fn mask(v: u64, bits: u32) -> u64 {
    if bits >= 64 {
        v
    } else {
        v & ((1 << bits) - 1)
    }
}

#[test]
fn engines_return_the_native_result() {
    let (engines, unavailable) = engines::all();
    for (name, why) in &unavailable {
        println!("SKIP engine {name}: {why}");
    }
    let mut input = Input::new();
    let pristine = input.0;
    let mut failures = Vec::new();
    let mut workloads: Vec<Workload> = PROGRAMS
        .iter()
        .map(|p| Workload::from_program(p).unwrap())
        .collect();
    workloads.push(Workload::empty());
    for w in &workloads {
        let expected = (w.native.unwrap())(&input.0);
        for e in &engines {
            let got = e
                .prepare(w)
                .and_then(|mut p| p.run(&mut input.0))
                .map(|r0| mask(r0, e.result_bits()));
            match got {
                Ok(r0) if r0 == mask(expected, e.result_bits()) => {}
                Ok(r0) => failures.push(format!(
                    "{} / {}: r0 = {r0:#x}, native = {expected:#x}",
                    w.name,
                    e.name()
                )),
                Err(err) => failures.push(format!("{} / {}: {err:#}", w.name, e.name())),
            }
            assert!(
                input.0 == pristine,
                "{} / {} wrote to the input",
                w.name,
                e.name()
            );
        }
    }
    assert!(
        failures.is_empty(),
        "engines disagree:\n{}",
        failures.join("\n")
    );
}

#[test]
fn native_results_are_input_dependent_and_strsearch_finds_the_needles() {
    let input = Input::new();
    let mut other = Input::new();
    other.0[..64].iter_mut().for_each(|b| *b ^= 0x5a);
    for p in PROGRAMS {
        let a = (p.native)(&input.0);
        assert_ne!(a, 0, "{}: zero result", p.name);
        assert_ne!(
            a,
            (p.native)(&other.0),
            "{}: the result ignores the input",
            p.name
        );
        assert_eq!(
            (p.native)(&input.0[..100]),
            0,
            "{}: a short buffer returns 0",
            p.name
        );
    }
    let found = oxbpf_bench::native::strsearch(&input.0);
    assert_eq!(found >> 32, oxbpf_bench::NEEDLE_AT.len() as u64);
}

#[test]
fn engines_agree_on_a_generated_program() {
    // Small enough for every engine (rbpf's JIT has a one-page code buffer).
    let w = Workload::bytecode("generated", "", generated_program(400, 7));
    let (engines, _) = engines::all();
    let mut input = Input::new();
    let mut results = Vec::new();
    for e in engines
        .iter()
        .filter(|e| e.class() != engines::Class::Native)
    {
        let r0 = e
            .prepare(&w)
            .and_then(|mut p| p.run(&mut input.0))
            .unwrap_or_else(|err| panic!("{}: {err:#}", e.name()));
        results.push((e.name(), e.result_bits(), r0));
    }
    let (first, _, r_first) = results[0];
    for &(name, bits, r0) in &results[1..] {
        assert_eq!(
            mask(r0, bits),
            mask(r_first, bits),
            "{name} and {first} disagree on the generated program"
        );
    }
}
