use oxbpf_isa::assemble;
use oxbpf_verifier::*;

fn run(src: &str, pt: ProgramType, maps: Vec<MapSpec>) -> Result<Verified, Box<VerifyError>> {
    let prog = assemble(src).unwrap_or_else(|e| panic!("asm: {e}\n{src}"));
    let conf = VerifierConfig::new(pt).with_maps(maps);
    verify(&prog, &conf)
}

fn ok(src: &str, pt: ProgramType, maps: Vec<MapSpec>) {
    if let Err(e) = run(src, pt, maps) {
        panic!("expected accept, got:\n{}", e.report());
    }
}

fn err(src: &str, pt: ProgramType, maps: Vec<MapSpec>) -> Box<VerifyError> {
    match run(src, pt, maps) {
        Ok(v) => panic!("expected reject, accepted: {:?}", v.stats),
        Err(e) => {
            eprintln!("{}", e.report());
            e
        }
    }
}

fn hash() -> MapSpec {
    MapSpec::new("counts", MapType::Hash, 4, 8, 64)
}

#[test]
fn trivial() {
    ok("r0 = 0\nexit", ProgramType::Xdp, vec![]);
    let e = err("exit", ProgramType::Xdp, vec![]);
    assert_eq!(e.kind, ErrorKind::UninitRegister);
}

#[test]
fn map_lookup_null_check() {
    let src = "
        *(u32 *)(r10 - 4) = 0
        r2 = r10
        r2 += -4
        r1 = map_idx(0) ll
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r1 = *(u64 *)(r0 + 0)
        r1 += 1
        *(u64 *)(r0 + 0) = r1
    out:
        r0 = 0
        exit";
    ok(src, ProgramType::Kprobe, vec![hash()]);
    let bad = src.replace("if r0 == 0 goto out", "");
    let e = err(&bad, ProgramType::Kprobe, vec![hash()]);
    assert_eq!(e.kind, ErrorKind::NullPointer);
    assert!(e.message.contains("bpf_map_lookup_elem"), "{}", e.message);
    let oob = src.replace("r1 = *(u64 *)(r0 + 0)", "r1 = *(u64 *)(r0 + 4)");
    let e = err(&oob, ProgramType::Kprobe, vec![hash()]);
    assert_eq!(e.kind, ErrorKind::OutOfBounds);
}

#[test]
fn xdp_packet_bounds() {
    let src = "
        r2 = *(u32 *)(r1 + 0)
        r3 = *(u32 *)(r1 + 4)
        r4 = r2
        r4 += 14
        if r4 > r3 goto drop
        r0 = *(u16 *)(r2 + 12)
        r0 = 2
        exit
    drop:
        r0 = 1
        exit";
    ok(src, ProgramType::Xdp, vec![]);
    let e = err(&src.replace("+ 12)", "+ 13)"), ProgramType::Xdp, vec![]);
    assert_eq!(e.kind, ErrorKind::OutOfBounds);
}

#[test]
fn bounded_loop() {
    let src = "
        r0 = 0
        r1 = 0
    loop:
        r0 += r1
        r1 += 1
        if r1 < 100 goto loop
        r0 = 0
        exit";
    let v = run(src, ProgramType::Kprobe, vec![]).expect("bounded loop");
    assert!(v.stats.insns_processed > 300);
    let e = err(
        "r0 = 0\nloop:\nr0 += 0\nif r0 == 0 goto loop\nexit",
        ProgramType::Kprobe,
        vec![],
    );
    assert_eq!(e.kind, ErrorKind::InfiniteLoop);
}

#[test]
fn stack_rules() {
    ok(
        "*(u64 *)(r10 - 8) = r1\nr1 = *(u64 *)(r10 - 8)\nr0 = *(u64 *)(r1 + 0)\nr0 = 0\nexit",
        ProgramType::Kprobe,
        vec![],
    );
    let e = err("r0 = *(u64 *)(r10 - 8)\nexit", ProgramType::Kprobe, vec![]);
    assert_eq!(e.kind, ErrorKind::UninitStack);
    let e = err(
        "*(u64 *)(r10 - 520) = 1\nr0 = 0\nexit",
        ProgramType::Kprobe,
        vec![],
    );
    assert_eq!(e.kind, ErrorKind::OutOfBounds);
    let e = err(
        "*(u64 *)(r10 - 4) = 1\nr0 = 0\nexit",
        ProgramType::Kprobe,
        vec![],
    );
    assert_eq!(e.kind, ErrorKind::Misaligned);
}

#[test]
fn calls() {
    let src = "
        r1 = 5
        call f
        exit
    f:
        r0 = r1
        r0 += 1
        exit";
    ok(src, ProgramType::Kprobe, vec![]);
    let e = err(
        "r1 = 5\ncall f\nr0 = r1\nexit\nf:\nr0 = 0\nexit",
        ProgramType::Kprobe,
        vec![],
    );
    assert_eq!(e.kind, ErrorKind::UninitRegister);
}

#[test]
fn ringbuf_reference() {
    let rb = MapSpec::new("events", MapType::Ringbuf, 0, 0, 4096);
    let src = "
        r1 = map_idx(0) ll
        r2 = 16
        r3 = 0
        call bpf_ringbuf_reserve
        if r0 == 0 goto out
        *(u64 *)(r0 + 8) = 7
        r1 = r0
        r2 = 0
        call bpf_ringbuf_submit
    out:
        r0 = 0
        exit";
    ok(src, ProgramType::Kprobe, vec![rb.clone()]);
    let e = err(
        &src.replace("call bpf_ringbuf_submit", "r0 = 0"),
        ProgramType::Kprobe,
        vec![rb.clone()],
    );
    assert_eq!(e.kind, ErrorKind::ReferenceLeak);
    let e = err(
        &src.replace("(r0 + 8)", "(r0 + 12)"),
        ProgramType::Kprobe,
        vec![rb],
    );
    assert_eq!(e.kind, ErrorKind::OutOfBounds);
}

#[test]
fn bad_configurations_are_errors() {
    let prog = assemble("r0 = 0\nexit").expect("asm");
    let mut conf = VerifierConfig::new(ProgramType::Kprobe);
    conf.helpers.push(HelperProto::new(
        9000,
        "too_many",
        vec![Arg::Anything; 6],
        Ret::Integer,
    ));
    let e = verify(&prog, &conf).expect_err("six arguments");
    assert!(e.message.contains("at most 5"), "{}", e.message);
    let mut conf = VerifierConfig::new(ProgramType::Kprobe);
    let mut m = MapSpec::new("outer", MapType::HashOfMaps, 4, 4, 4);
    m.inner = Some(7);
    conf.maps.push(m);
    let e = verify(&prog, &conf).expect_err("inner map out of range");
    assert!(e.message.contains("inner map 7"), "{}", e.message);
    let mut conf = VerifierConfig::new(ProgramType::Kprobe);
    conf.context = Some(ContextDescriptor {
        name: "broken".into(),
        size: 8,
        fields: vec![ContextField::scalar("a", 4, u32::MAX)],
        flat_loads: false,
    });
    let e = verify(&prog, &conf).expect_err("field past the end");
    assert!(e.message.contains("broken"), "{}", e.message);
}
