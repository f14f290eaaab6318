//! Packets per second of the packet runner: an XDP classifier and a socket filter over an
//! in-memory capture of 100,000 mixed packets (IPv4/UDP, IPv4/TCP, IPv6, VLAN).
//!
//! `cargo run --release -p oxbpf-runtime --example packet_bench`

use oxbpf_runtime::packet::{register_helpers, PacketRunner, ProgramKind};
use oxbpf_vm::jit::{JitOptions, JitProgram};
use oxbpf_vm::{Executable, Helpers, Interpreter};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use std::time::{Duration, Instant};

/// The XDP classifier of the runtime's packet tests.
const XDP: &str = include_str!("../tests/data/xdp_classify.s");
const SOCKET: &str = "
    r6 = r1
    r0 = *(u16 *)skb[12]
    if r0 != 0x0800 goto keep
    r0 = *(u8 *)skb[23]
    if r0 == 17 goto drop
keep:
    r0 = 0xffff
    exit
drop:
    r0 = 0
    exit
";

fn capture(n: usize) -> Vec<u8> {
    let frames: Vec<Vec<u8>> = vec![
        // IPv4/UDP, IPv4/TCP, IPv6/UDP, VLAN IPv4/UDP (64..128 bytes)
        hex("0200000000020200000000010800450000210001000040116b950a0000010a000002a0040035000d0000717565727900"),
        hex("020000000002020000000001080045000028000100004006ab7e0a0000010a000002a0050050000000010000000050020fff00000000"),
        {
            let mut p = hex("02000000000202000000000186dd600000000010114000fd000000000000000000000000000001fd000000000000000000000000000002");
            p.extend_from_slice(&[0x9c, 0x42, 0x27, 0x0f, 0, 16, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
            p
        },
        hex("020000000002020000000001810000640800450000230001000040116b930a0000010a000002a0060035000f0000616263646500"),
    ];
    let mut out = Vec::new();
    let mut w = PcapWriter::with_header(&mut out, PcapHeader::default()).unwrap();
    for i in 0..n {
        let f = &frames[i % frames.len()];
        w.write_packet(&PcapPacket::new(
            Duration::from_micros(i as u64),
            f.len() as u32,
            f,
        ))
        .unwrap();
    }
    let _ = w.into_writer();
    out
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn main() {
    let n = 100_000;
    let file = capture(n);
    let mut h = Helpers::new();
    register_helpers(&mut h);
    println!("| program | engine | packets | Mpps (run time) | Mpps (with pcap I/O) | ns/packet |");
    println!("| --- | --- | ---: | ---: | ---: | ---: |");
    for (name, src, kind) in [
        ("XDP classifier", XDP, ProgramKind::Xdp),
        ("socket filter (ld_abs)", SOCKET, ProgramKind::SocketFilter),
    ] {
        let p = oxbpf_isa::assemble(src).unwrap();
        let engines: [(&str, Box<dyn Executable>); 2] = [
            ("interpreter", Box::new(Interpreter::new(&p, &h).unwrap())),
            (
                "jit (checked)",
                Box::new(JitProgram::compile(&p, &h, &JitOptions::checked()).unwrap()),
            ),
        ];
        for (engine, exec) in &engines {
            let mut r = PacketRunner::new(exec.as_ref(), kind).unwrap();
            let mut out = Vec::with_capacity(file.len());
            r.run_pcap(&file[..], Some(&mut out)).unwrap();
            out.clear();
            let t = Instant::now();
            let s = r.run_pcap(&file[..], Some(&mut out)).unwrap();
            let wall = t.elapsed().as_secs_f64();
            assert_eq!(s.packets as usize, n);
            println!(
                "| {name} | {engine} | {n} | {:.2} | {:.2} | {:.0} |",
                s.pps() / 1e6,
                n as f64 / wall / 1e6,
                s.run_time.as_nanos() as f64 / n as f64
            );
        }
    }
}
