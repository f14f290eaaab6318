//! The packet runner: XDP and socket-filter programs over generated captures (pcap,
//! pcapng, truncated, VLAN, IPv6), checked against expected verdicts and, where `bpf()`
//! is allowed, against the kernel's `BPF_PROG_TEST_RUN` on the same bytecode and packets.

use oxbpf_isa::{assemble, Program};
use oxbpf_kernel::{load_raw, test_run, LoadOptions, ProgType, TestRunInput};
use oxbpf_runtime::packet::{
    register_helpers, LinkType, PacketOptions, PacketRunner, ProgramKind, SkbView, Verdict,
    XdpAction,
};
use oxbpf_vm::{Executable, Helpers, Interpreter};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter};
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock;
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;
use std::borrow::Cow;
use std::time::Duration;

// ---- packets ----

const SRC_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 1];
const DST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 2];

fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = DST_MAC.to_vec();
    p.extend_from_slice(&SRC_MAC);
    p.extend_from_slice(&ethertype.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

fn vlan(tci: u16, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut inner = tci.to_be_bytes().to_vec();
    inner.extend_from_slice(&ethertype.to_be_bytes());
    inner.extend_from_slice(payload);
    eth(0x8100, &inner)
}

fn ipv4(proto: u8, l4: &[u8]) -> Vec<u8> {
    let total = (20 + l4.len()) as u16;
    let mut h = vec![
        0x45, 0, 0, 0, 0, 1, 0, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];
    h[2..4].copy_from_slice(&total.to_be_bytes());
    let sum = checksum(&h);
    h[10..12].copy_from_slice(&sum.to_be_bytes());
    h.extend_from_slice(l4);
    h
}

fn ipv6(next: u8, l4: &[u8]) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0];
    h.extend_from_slice(&(l4.len() as u16).to_be_bytes());
    h.extend_from_slice(&[next, 64]);
    h.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    h.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    h.extend_from_slice(l4);
    h
}

fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut h = sport.to_be_bytes().to_vec();
    h.extend_from_slice(&dport.to_be_bytes());
    h.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    h.extend_from_slice(&[0, 0]);
    h.extend_from_slice(payload);
    h
}

fn tcp(sport: u16, dport: u16) -> Vec<u8> {
    let mut h = sport.to_be_bytes().to_vec();
    h.extend_from_slice(&dport.to_be_bytes());
    h.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
    h
}

fn checksum(b: &[u8]) -> u16 {
    let mut s: u32 = b
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32)
        .sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// The packets of the tests, with a name.
fn packets() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "udp4-dns",
            eth(0x0800, &ipv4(17, &udp(40000, 53, b"query"))),
        ),
        ("tcp4-http", eth(0x0800, &ipv4(6, &tcp(40001, 80)))),
        ("udp6", eth(0x86dd, &ipv6(17, &udp(40002, 9999, &[7; 100])))),
        (
            "vlan-udp4",
            vlan(0x0064, 0x0800, &ipv4(17, &udp(40003, 123, b"ntp"))),
        ),
        ("vlan-tcp4", vlan(0x0065, 0x0800, &ipv4(6, &tcp(40004, 22)))),
        (
            "arp",
            eth(
                0x0806,
                &[
                    0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0,
                    0, 2,
                ],
            ),
        ),
        (
            "big-udp4",
            eth(0x0800, &ipv4(17, &udp(40005, 5000, &[0xab; 1400]))),
        ),
    ]
}

fn pcap(link: DataLink, pkts: &[(Vec<u8>, u32)]) -> Vec<u8> {
    let mut out = Vec::new();
    let header = PcapHeader {
        datalink: link,
        ..PcapHeader::default()
    };
    let mut w = PcapWriter::with_header(&mut out, header).unwrap();
    for (i, (p, orig)) in pkts.iter().enumerate() {
        w.write_packet(&PcapPacket::new(
            Duration::from_micros(1_000_000 + i as u64),
            *orig,
            p,
        ))
        .unwrap();
    }
    let _ = w.into_writer();
    out
}

fn read_pcap(bytes: &[u8]) -> Vec<(Vec<u8>, u32)> {
    let mut r = PcapReader::new(bytes).unwrap();
    let mut v = Vec::new();
    while let Some(p) = r.next_packet() {
        let p = p.unwrap();
        v.push((p.data.to_vec(), p.orig_len));
    }
    v
}

// ---- programs ----

/// XDP: IPv6 -> TX; IPv4/UDP -> DROP (also behind one VLAN tag); anything shorter than
/// its headers -> ABORTED; else PASS.
const XDP_CLASSIFY: &str = include_str!("data/xdp_classify.s");
/// XDP: push a 4-byte tag in front of the packet, write metadata, grow the tail by 2 and
/// write 0xee at byte 59 (the last byte of the 54-byte TCP packet grown by 6), PASS. Each helper's result is or-ed into a fault flag (ABORTED).
const XDP_RESHAPE: &str = "
    r6 = r1
    r2 = -4
    call bpf_xdp_adjust_head
    if r0 != 0 goto fail
    r1 = r6
    r2 = -8
    call bpf_xdp_adjust_meta
    if r0 != 0 goto fail
    r1 = r6
    r2 = 2
    call bpf_xdp_adjust_tail
    if r0 != 0 goto fail
    r2 = *(u32 *)(r6 + 0)
    r3 = *(u32 *)(r6 + 4)
    r4 = *(u32 *)(r6 + 8)
    r5 = r2
    r5 += 4
    if r5 > r3 goto fail
    r7 = 0xdeadbeef ll
    *(u32 *)(r2 + 0) = r7
    r5 = r4
    r5 += 8
    if r5 > r2 goto fail
    *(u64 *)(r4 + 0) = 42
    r5 = r2
    r5 += 60
    if r5 > r3 goto fail
    *(u8 *)(r2 + 59) = 0xee
    r0 = 2
    exit
fail:
    r0 = 0
    exit
";

/// Socket filter, network view: UDP -> drop, else keep 40 bytes.
const SK_NET: &str = "
    r6 = r1
    r0 = *(u8 *)skb[9]
    if r0 == 17 goto drop
    r0 = 40
    exit
drop:
    r0 = 0
    exit
";

/// Socket filter with bpf_skb_load_bytes: keep the packet whole when its first two bytes
/// are 0x45 0x00 (IPv4, network view), else keep 1 byte; -EFAULT from the helper past
/// the end returns 7.
const SK_LOAD: &str = "
    r6 = r1
    r1 = r6
    r2 = 0
    r3 = r10
    r3 += -8
    r4 = 2
    call bpf_skb_load_bytes
    if r0 != 0 goto short
    r1 = *(u16 *)(r10 - 8)
    if r1 != 0x45 goto one
    r1 = r6
    r2 = 100000
    r3 = r10
    r3 += -8
    r4 = 4
    call bpf_skb_load_bytes
    if r0 == 0 goto one
    r0 = *(u32 *)(r6 + 0)
    exit
one:
    r0 = 1
    exit
short:
    r0 = 7
    exit
";

fn helpers() -> Helpers {
    let mut h = Helpers::new();
    register_helpers(&mut h);
    h
}

fn program(src: &str) -> Program {
    assemble(src).unwrap_or_else(|e| panic!("{e}"))
}

fn engine(p: &Program) -> Box<dyn Executable> {
    Box::new(Interpreter::new(p, &helpers()).unwrap())
}

fn kernel_ok() -> bool {
    if let Some(why) = oxbpf_kernel::probe::bpf_unavailable() {
        println!("SKIP: {why}");
        return false;
    }
    true
}

// ---- tests ----

#[test]
fn xdp_verdicts_over_a_pcap() {
    let p = program(XDP_CLASSIFY);
    let exec = engine(&p);
    let pkts = packets();
    let mut input: Vec<(Vec<u8>, u32)> = pkts
        .iter()
        .map(|(_, p)| (p.clone(), p.len() as u32))
        .collect();
    // A runt frame (too short for Ethernet) and a truncated capture of a UDP packet
    // (caplen 30 < length: the IPv4 header is cut, so the program aborts).
    input.push((vec![1, 2, 3], 3));
    let full = eth(0x0800, &ipv4(17, &udp(1, 2, &[0; 64])));
    input.push((full[..30].to_vec(), full.len() as u32));
    let file = pcap(DataLink::ETHERNET, &input);
    let mut out = Vec::new();
    let mut r = PacketRunner::new(exec.as_ref(), ProgramKind::Xdp).unwrap();
    let stats = r.run_pcap(&file[..], Some(&mut out)).unwrap();
    assert_eq!(stats.packets, 9);
    assert_eq!(stats.truncated, 1);
    assert_eq!(stats.faults, 0, "{:?}", stats.first_fault);
    // udp4-dns, vlan-udp4, big-udp4 drop; udp6 tx; tcp4, vlan-tcp4, arp pass; runt and
    // truncated abort.
    assert_eq!(stats.xdp.drop, 3);
    assert_eq!(stats.xdp.tx, 1);
    assert_eq!(stats.xdp.pass, 3);
    assert_eq!(stats.xdp.aborted, 2);
    assert!(stats.pps() > 0.0);
    let written = read_pcap(&out);
    assert_eq!(stats.written, 3);
    let expect: Vec<_> = ["tcp4-http", "vlan-tcp4", "arp"]
        .iter()
        .map(|n| pkts.iter().find(|p| p.0 == *n).unwrap().1.clone())
        .collect();
    assert_eq!(
        written.iter().map(|w| w.0.clone()).collect::<Vec<_>>(),
        expect
    );

    // With write_tx the IPv6 packet is written too.
    let mut out = Vec::new();
    let mut r = PacketRunner::with_options(
        exec.as_ref(),
        ProgramKind::Xdp,
        PacketOptions {
            write_tx: true,
            ..Default::default()
        },
    )
    .unwrap();
    let stats = r.run_pcap(&file[..], Some(&mut out)).unwrap();
    assert_eq!(stats.written, 4);
}

#[test]
fn pcapng_input_is_read() {
    let p = program(XDP_CLASSIFY);
    let exec = engine(&p);
    let mut file = Vec::new();
    {
        let mut w = PcapNgWriter::new(&mut file).unwrap();
        w.write_pcapng_block(InterfaceDescriptionBlock::new(DataLink::ETHERNET, 0))
            .unwrap();
        // A second interface of a type the runner does not handle.
        w.write_pcapng_block(InterfaceDescriptionBlock::new(DataLink::IEEE802_11, 0))
            .unwrap();
        for (i, (_, pkt)) in packets().iter().enumerate() {
            w.write_pcapng_block(EnhancedPacketBlock {
                interface_id: 0,
                timestamp: Duration::from_micros(i as u64),
                original_len: pkt.len() as u32,
                data: Cow::Borrowed(pkt),
                options: vec![],
            })
            .unwrap();
        }
        w.write_pcapng_block(EnhancedPacketBlock {
            interface_id: 1,
            timestamp: Duration::ZERO,
            original_len: 20,
            data: Cow::Borrowed(&[0u8; 20]),
            options: vec![],
        })
        .unwrap();
    }
    let mut r = PacketRunner::new(exec.as_ref(), ProgramKind::Xdp).unwrap();
    let mut out = Vec::new();
    let stats = r.run_pcap(&file[..], Some(&mut out)).unwrap();
    assert_eq!(stats.packets, 8);
    assert_eq!(stats.skipped, 1, "the 802.11 packet");
    assert_eq!((stats.xdp.drop, stats.xdp.tx, stats.xdp.pass), (3, 1, 3));
    assert_eq!(read_pcap(&out).len(), 3);
}

#[test]
fn bad_captures_are_errors_naming_the_place() {
    let p = program(XDP_CLASSIFY);
    let exec = engine(&p);
    let mut r = PacketRunner::new(exec.as_ref(), ProgramKind::Xdp).unwrap();
    let e = r.run_pcap(&b"ab"[..], None).unwrap_err();
    assert!(e.to_string().contains("too short"), "{e}");
    let e = r.run_pcap(&b"not a capture file"[..], None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "capture: not a pcap or pcapng file: it starts with 6e 6f 74 20 (pcap files start \
         with d4 c3 b2 a1 or a1 b2 c3 d4, pcapng files with 0a 0d 0d 0a)"
    );
    // A record cut in the middle.
    let mut file = pcap(DataLink::ETHERNET, &[(packets()[0].1.clone(), 47)]);
    file.truncate(file.len() - 5);
    let e = r.run_pcap(&file[..], None).unwrap_err();
    assert!(e.to_string().contains("packet 0"), "{e}");
}

#[test]
fn xdp_helpers_reshape_the_packet() {
    let p = program(XDP_RESHAPE);
    let exec = engine(&p);
    let mut r = PacketRunner::new(exec.as_ref(), ProgramKind::Xdp).unwrap();
    let pkt = packets()[1].1.clone();
    let out = r
        .run_packet(LinkType::Ethernet, &pkt, pkt.len() as u32, Duration::ZERO)
        .unwrap();
    assert_eq!(out.verdict, Verdict::Xdp(XdpAction::Pass));
    let mut expect = 0xdeadbeefu32.to_le_bytes().to_vec();
    expect.extend_from_slice(&pkt);
    expect.extend_from_slice(&[0, 0xee]);
    assert_eq!(out.data, &expect[..]);
}

#[test]
fn xdp_redirect_records_the_target() {
    let p = program("r1 = 7\nr2 = 0\ncall bpf_redirect\nexit");
    let exec = engine(&p);
    let mut r = PacketRunner::new(exec.as_ref(), ProgramKind::Xdp).unwrap();
    let pkt = packets()[0].1.clone();
    let o = r
        .run_packet(LinkType::Ethernet, &pkt, pkt.len() as u32, Duration::ZERO)
        .unwrap();
    assert_eq!(o.verdict, Verdict::Xdp(XdpAction::Redirect));
    assert_eq!(o.redirect_ifindex, 7);
    assert!(!o.passes);
}

#[test]
fn xdp_adjust_limits() {
    // adjust_head by N, returning the helper's result.
    let head = |n: i32| program(&format!("r2 = {n}\ncall bpf_xdp_adjust_head\nexit"));
    let tail = |n: i32| program(&format!("r2 = {n}\ncall bpf_xdp_adjust_tail\nexit"));
    let meta = |n: i32| program(&format!("r2 = {n}\ncall bpf_xdp_adjust_meta\nexit"));
    let pkt = packets()[0].1.clone();
    let run = |p: &Program| {
        let exec = engine(p);
        let mut r = PacketRunner::new(exec.as_ref(), ProgramKind::Xdp).unwrap();
        let o = r
            .run_packet(LinkType::Ethernet, &pkt, pkt.len() as u32, Duration::ZERO)
            .unwrap();
        (o.r0.unwrap() as i64, o.data.len())
    };
    let einval = -(libc::EINVAL as i64);
    assert_eq!(run(&head(-216)), (0, pkt.len() + 216));
    assert_eq!(run(&head(-217)).0, einval, "the xdp_frame area stays free");
    assert_eq!(run(&head(pkt.len() as i32 - 14)), (0, 14));
    assert_eq!(
        run(&head(pkt.len() as i32 - 13)).0,
        einval,
        "an Ethernet header stays"
    );
    let max_grow = 4096 - 320 - 256 - pkt.len() as i32;
    assert_eq!(run(&tail(max_grow)), (0, 4096 - 320 - 256));
    assert_eq!(run(&tail(max_grow + 1)).0, einval);
    assert_eq!(run(&tail(14 - pkt.len() as i32)).0, 0);
    assert_eq!(run(&meta(-32)).0, 0);
    assert_eq!(
        run(&meta(-216)).0,
        0,
        "up to 255 bytes (the kernel's u8 meta_len)"
    );
    assert_eq!(run(&meta(-220)).0, einval, "the xdp_frame area stays free");
    assert_eq!(run(&meta(-6)).0, -(libc::EACCES as i64));
    assert_eq!(run(&meta(4)).0, einval);
}

#[test]
fn socket_filter_views_and_trimming() {
    let p = program(SK_NET);
    let exec = engine(&p);
    let pkts = packets();
    let input: Vec<(Vec<u8>, u32)> = pkts
        .iter()
        .map(|(_, p)| (p.clone(), p.len() as u32))
        .collect();
    let file = pcap(DataLink::ETHERNET, &input);
    let mut out = Vec::new();
    let mut r = PacketRunner::with_options(
        exec.as_ref(),
        ProgramKind::SocketFilter,
        PacketOptions {
            skb_view: SkbView::Network,
            ..Default::default()
        },
    )
    .unwrap();
    let stats = r.run_pcap(&file[..], Some(&mut out)).unwrap();
    // Network view: byte 9 is the IPv4 protocol. UDP over IPv4 drops (udp4-dns,
    // big-udp4); the VLAN packets start with the tag (byte 9 of the IPv4 header is at
    // 13), IPv6 byte 9 is address, ARP byte 9 is 0: those keep 40 bytes.
    assert_eq!(stats.socket.dropped, 2);
    assert_eq!(stats.socket.accepted, 5);
    let written = read_pcap(&out);
    assert_eq!(written.len(), 5);
    for (w, orig) in &written {
        assert_eq!(
            w.len(),
            14 + 40.min(w.len() - 14),
            "Ethernet header plus kept bytes"
        );
        assert_eq!(&w[..12], &pkts[1].1[..12], "MAC addresses");
        assert_eq!(*orig as usize, w.len());
    }
    let kept: Vec<usize> = pkts
        .iter()
        .filter(|(n, _)| !matches!(*n, "udp4-dns" | "big-udp4"))
        .map(|(_, p)| 40.min(p.len() - 14))
        .collect();
    assert_eq!(
        stats.socket.accepted_bytes,
        kept.iter().sum::<usize>() as u64
    );
    let longer = pkts
        .iter()
        .filter(|(n, p)| !matches!(*n, "udp4-dns" | "big-udp4") && p.len() - 14 > 40)
        .count();
    assert_eq!(stats.socket.trimmed, longer as u64);

    // Link-layer view: byte 9 is inside the source MAC (0): nothing is UDP.
    let mut r = PacketRunner::new(exec.as_ref(), ProgramKind::SocketFilter).unwrap();
    let stats = r.run_pcap(&file[..], None).unwrap();
    assert_eq!(stats.socket.dropped, 0);
    assert_eq!(stats.socket.accepted_bytes, 40 * 7);
}

#[test]
fn raw_ip_and_cooked_captures() {
    let p = program(SK_NET);
    let exec = engine(&p);
    let mut r = PacketRunner::with_options(
        exec.as_ref(),
        ProgramKind::SocketFilter,
        PacketOptions {
            skb_view: SkbView::Network,
            ..Default::default()
        },
    )
    .unwrap();
    let raw = ipv4(17, &udp(1, 53, b"x"));
    let file = pcap(DataLink::RAW, &[(raw.clone(), raw.len() as u32)]);
    let stats = r.run_pcap(&file[..], None).unwrap();
    assert_eq!(stats.socket.dropped, 1);
    // Linux cooked v1: 16-byte header, protocol at 14.
    let mut sll = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00];
    sll.extend_from_slice(&raw);
    let file = pcap(DataLink::LINUX_SLL, &[(sll.clone(), sll.len() as u32)]);
    let stats = r.run_pcap(&file[..], None).unwrap();
    assert_eq!(stats.socket.dropped, 1);
}

#[test]
fn socket_filter_context_fields() {
    // Returns protocol (as loaded) << 16 | len, and writes cb[0].
    let p = program(
        "r2 = *(u32 *)(r1 + 16)
         r2 <<= 16
         r3 = *(u32 *)(r1 + 0)
         r2 |= r3
         *(u32 *)(r1 + 48) = 5
         r0 = r2
         exit",
    );
    let exec = engine(&p);
    let mut r = PacketRunner::with_options(
        exec.as_ref(),
        ProgramKind::SocketFilter,
        PacketOptions {
            skb_view: SkbView::Network,
            ..Default::default()
        },
    )
    .unwrap();
    let pkt = packets()[2].1.clone(); // IPv6
    let o = r
        .run_packet(LinkType::Ethernet, &pkt, pkt.len() as u32, Duration::ZERO)
        .unwrap();
    let r0 = o.r0.unwrap();
    assert_eq!(r0 & 0xffff, (pkt.len() - 14) as u64);
    assert_eq!(r0 >> 16, u16::from_ne_bytes([0x86, 0xdd]) as u64);
    // Writing a read-only field faults.
    let p = program("*(u32 *)(r1 + 0) = 5\nr0 = 1\nexit");
    let exec = engine(&p);
    let mut r = PacketRunner::new(exec.as_ref(), ProgramKind::SocketFilter).unwrap();
    let o = r
        .run_packet(LinkType::Ethernet, &pkt, pkt.len() as u32, Duration::ZERO)
        .unwrap();
    assert!(matches!(o.verdict, Verdict::Fault(_)), "{:?}", o.verdict);
}

/// The same bytecode and packets through the kernel's BPF_PROG_TEST_RUN.
#[test]
fn same_verdicts_as_the_kernel() {
    if !kernel_ok() {
        return;
    }
    let cases: &[(&str, ProgType, ProgramKind)] = &[
        (XDP_CLASSIFY, ProgType::Xdp, ProgramKind::Xdp),
        (XDP_RESHAPE, ProgType::Xdp, ProgramKind::Xdp),
        (SK_NET, ProgType::SocketFilter, ProgramKind::SocketFilter),
        (SK_LOAD, ProgType::SocketFilter, ProgramKind::SocketFilter),
        // __sk_buff fields at oxbpf's offsets: protocol << 16 | len, then
        // ifindex << 8 | vlan_present.
        (
            "r0 = *(u32 *)(r1 + 16)\nr0 <<= 16\nr2 = *(u32 *)(r1 + 0)\nr0 |= r2\nexit",
            ProgType::SocketFilter,
            ProgramKind::SocketFilter,
        ),
        (
            "r0 = *(u32 *)(r1 + 40)\nr0 <<= 8\nr2 = *(u32 *)(r1 + 20)\nr0 |= r2\nexit",
            ProgType::SocketFilter,
            ProgramKind::SocketFilter,
        ),
        // bpf_redirect: XDP_REDIRECT, or XDP_ABORTED with flags.
        ("r1 = 7\nr2 = 0\ncall bpf_redirect\nexit", ProgType::Xdp, ProgramKind::Xdp),
        ("r1 = 7\nr2 = 1\ncall bpf_redirect\nexit", ProgType::Xdp, ProgramKind::Xdp),
        // xdp_md: data_end - data, and rx_queue_index / ingress_ifindex as test runs give.
        (
            "r2 = *(u32 *)(r1 + 0)\nr0 = *(u32 *)(r1 + 4)\nr0 -= r2\nr3 = *(u32 *)(r1 + 16)\nr3 <<= 16\nr0 |= r3\nexit",
            ProgType::Xdp,
            ProgramKind::Xdp,
        ),
    ];
    for (src, pt, kind) in cases {
        let p = program(src);
        let loaded = load_raw(&p, &LoadOptions::new(*pt)).unwrap_or_else(|e| panic!("{e}"));
        let exec = engine(&p);
        let mut r = PacketRunner::with_options(
            exec.as_ref(),
            *kind,
            PacketOptions {
                skb_view: SkbView::Network,
                ..Default::default()
            },
        )
        .unwrap();
        for (name, pkt) in packets() {
            let k = test_run(&loaded, &TestRunInput::packet(&pkt)).unwrap();
            let o = r
                .run_packet(LinkType::Ethernet, &pkt, pkt.len() as u32, Duration::ZERO)
                .unwrap();
            assert_eq!(o.r0, Some(k.retval as u64), "{name}: {src}");
            if *kind == ProgramKind::Xdp {
                // The kernel's test run returns the metadata in front of the packet.
                assert_eq!(
                    [o.meta, o.data].concat(),
                    k.data_out,
                    "{name}: packet after the program"
                );
            }
        }
    }
}

/// The kernel's limits of bpf_xdp_adjust_head/tail/meta in BPF_PROG_TEST_RUN equal
/// oxbpf's (the headroom it keeps for struct xdp_frame, the tailroom, the metadata rules).
#[test]
fn adjust_limits_match_the_kernel() {
    if !kernel_ok() {
        return;
    }
    let pkt = packets()[0].1.clone();
    let mut progs = Vec::new();
    for n in [
        -256,
        -232,
        -217,
        -216,
        -200,
        -4,
        0,
        20,
        pkt.len() as i32 - 14,
        pkt.len() as i32 - 13,
    ] {
        progs.push(format!("r2 = {n}\ncall bpf_xdp_adjust_head\nexit"));
    }
    let max_grow = 4096 - 320 - 256 - pkt.len() as i32;
    for n in [
        max_grow - 1,
        max_grow,
        max_grow + 1,
        14 - pkt.len() as i32,
        13 - pkt.len() as i32,
    ] {
        progs.push(format!("r2 = {n}\ncall bpf_xdp_adjust_tail\nexit"));
    }
    for n in [-220, -216, -212, -40, -36, -32, -8, -6, 0, 4] {
        progs.push(format!("r2 = {n}\ncall bpf_xdp_adjust_meta\nexit"));
    }
    for src in progs {
        let p = program(&src);
        let loaded = load_raw(&p, &LoadOptions::new(ProgType::Xdp)).unwrap();
        let k = test_run(&loaded, &TestRunInput::packet(&pkt)).unwrap();
        let exec = engine(&p);
        let mut r = PacketRunner::new(exec.as_ref(), ProgramKind::Xdp).unwrap();
        let o = r
            .run_packet(LinkType::Ethernet, &pkt, pkt.len() as u32, Duration::ZERO)
            .unwrap();
        assert_eq!(o.r0, Some(k.retval as i32 as i64 as u64), "{src}");
        assert_eq!(o.meta.len() + o.data.len(), k.data_out.len(), "{src}");
    }
}
