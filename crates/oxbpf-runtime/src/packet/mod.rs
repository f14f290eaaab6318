//! XDP and socket-filter programs over captured packets (pcap and pcapng files).
//!
//! [`PacketRunner`] runs one program per packet with the kernel's context layout
//! (`struct xdp_md` or `struct __sk_buff`, see [`ctx`]) and the packet helpers
//! ([`helpers::register`]), counts verdicts and writes the packets that pass (as the
//! program left them) to an output pcap.
//!
//! # Packet memory
//!
//! The uapi context fields `data`, `data_end` and `data_meta` are `__u32`; the kernel
//! rewrites their loads into 64-bit pointer loads. oxbpf places each packet in a frame
//! mapped below 4 GiB (`MAP_32BIT`, see `frame.rs`), so the `__u32` holds the real
//! address and programs run unmodified, on every engine, with no context-access rewrite.
//! The frame is laid out like the kernel's XDP frame in `BPF_PROG_TEST_RUN`: 4,096 bytes
//! (more for larger packets, rounded to pages), 256 bytes of headroom
//! (`XDP_PACKET_HEADROOM`) of which the first [`helpers::XDP_FRAME_RESERVED`] are
//! kept free (the kernel's `struct xdp_frame`), the packet, and a 320-byte tailroom
//! (`skb_shared_info`) that `bpf_xdp_adjust_tail` cannot grow into.
//!
//! # Socket filters: where the packet starts
//!
//! What a socket filter sees depends on the socket: on an `AF_PACKET`/`SOCK_RAW` socket
//! (libpcap, tcpdump) `packet_rcv` pushes the link-layer header back before
//! `run_filter`, so the data starts at the MAC header; on `AF_INET` sockets and in
//! `BPF_PROG_TEST_RUN` (`bpf_prog_test_run_skb` calls `eth_type_trans`, which pulls the
//! Ethernet header, and only pushes it back for tc programs) it starts at the network
//! header. [`SkbView`] chooses; the default is [`SkbView::LinkLayer`], the view of
//! capture tools, and [`SkbView::Network`] is the kernel test-run's view (the kernel
//! comparison tests use it). Either way the return value is the number of bytes to keep
//! (0 drops the packet; more than the length keeps it whole), and the output pcap gets
//! the kept bytes (with the link-layer header put back in the network view).
//!
//! # Captures
//!
//! Link types: Ethernet, raw IP (`LINKTYPE_RAW`, `IPV4`, `IPV6`), Linux cooked capture
//! (`LINUX_SLL`, `LINUX_SLL2`); packets of other link types are skipped and counted.
//! VLAN tags stay in the data, as in a capture (no tag offload: `vlan_present` is 0). A
//! truncated capture (caplen < length) runs on the captured bytes: `data_end` and
//! `__sk_buff.len` cover them, `wire_len` is the original length.

pub mod ctx;
mod frame;
pub mod helpers;

pub use helpers::{register as register_helpers, PacketEnv};

use ctx::{put_u32, put_u64, sk_buff, xdp_md};
use frame::{LowMem, CTX_PAGE};
use helpers::EnvKind;
use oxbpf_vm::{Executable, MemoryRegion, RegionKind, RunContext, VmError};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter};
use pcap_file::pcapng::{Block, PcapNgReader};
use pcap_file::{DataLink, Endianness, TsResolution};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::time::{Duration, Instant};
use thiserror::Error;

/// `XDP_PACKET_HEADROOM`.
pub const HEADROOM: usize = 256;
/// `SKB_DATA_ALIGN(sizeof(struct skb_shared_info))` on x86-64: the end of the frame that
/// packet data never reaches.
pub const TAILROOM: usize = 320;
/// The frame size of ordinary packets.
pub const FRAME_SIZE: usize = 4096;
/// Snap length of output captures.
const OUT_SNAPLEN: u32 = 262_144;

/// Errors of the packet runner.
#[derive(Debug, Error)]
pub enum PacketError {
    #[error("reading the capture: {0}")]
    Read(#[source] io::Error),
    #[error("capture: {0}")]
    Capture(String),
    #[error("capture, packet {index}: {message}")]
    Packet { index: u64, message: String },
    #[error("writing the output capture: {0}")]
    Write(String),
    #[error("mapping packet memory below 4 GiB: {0}")]
    Memory(#[source] io::Error),
}

/// The program type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProgramKind {
    /// `BPF_PROG_TYPE_XDP`: context `struct xdp_md`, verdict `XDP_*`.
    Xdp,
    /// `BPF_PROG_TYPE_SOCKET_FILTER`: context `struct __sk_buff`, returns the bytes to keep.
    SocketFilter,
}

/// Where a socket filter's packet data starts (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum SkbView {
    /// At the link-layer header (`AF_PACKET`/`SOCK_RAW`: libpcap, tcpdump).
    #[default]
    LinkLayer,
    /// At the network header (`AF_INET` sockets, `BPF_PROG_TEST_RUN`).
    Network,
}

/// Link-layer types the runner understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkType {
    Ethernet,
    /// Raw IPv4/IPv6 (`LINKTYPE_RAW`, `LINKTYPE_IPV4`, `LINKTYPE_IPV6`).
    RawIp,
    /// Linux cooked capture v1 (16-byte header).
    LinuxSll,
    /// Linux cooked capture v2 (20-byte header).
    LinuxSll2,
}

impl LinkType {
    /// The runner's view of a pcap link type, if supported.
    pub fn from_datalink(d: DataLink) -> Option<LinkType> {
        Some(match d {
            DataLink::ETHERNET => LinkType::Ethernet,
            DataLink::RAW | DataLink::IPV4 | DataLink::IPV6 => LinkType::RawIp,
            DataLink::LINUX_SLL => LinkType::LinuxSll,
            DataLink::LINUX_SLL2 => LinkType::LinuxSll2,
            _ => return None,
        })
    }

    /// Length of the link-layer header and the protocol (`__be16` bytes as in the
    /// packet), or `None` when the packet is too short for its link-layer header.
    fn header(self, pkt: &[u8]) -> Option<(usize, [u8; 2])> {
        match self {
            LinkType::Ethernet => Some((14, [*pkt.get(12)?, *pkt.get(13)?])),
            LinkType::RawIp => Some((
                0,
                match pkt.first().map(|b| b >> 4) {
                    Some(4) => [0x08, 0x00],
                    Some(6) => [0x86, 0xdd],
                    _ => [0, 0],
                },
            )),
            LinkType::LinuxSll => {
                Some((16, [*pkt.get(14)?, *pkt.get(15)?])).filter(|_| pkt.len() >= 16)
            }
            LinkType::LinuxSll2 => {
                Some((20, [*pkt.first()?, *pkt.get(1)?])).filter(|_| pkt.len() >= 20)
            }
        }
    }
}

/// Options of a [`PacketRunner`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketOptions {
    /// `ingress_ifindex` (and `__sk_buff.ifindex`).
    pub ifindex: u32,
    /// `xdp_md.rx_queue_index` (and `__sk_buff.queue_mapping`).
    pub rx_queue_index: u32,
    /// Socket-filter view.
    pub skb_view: SkbView,
    /// Also write `XDP_TX` packets to the output (by default only `XDP_PASS` ones).
    pub write_tx: bool,
    /// Instruction budget per packet.
    pub budget: Option<u64>,
}

impl Default for PacketOptions {
    fn default() -> Self {
        PacketOptions {
            ifindex: 1,
            rx_queue_index: 0,
            skb_view: SkbView::LinkLayer,
            write_tx: false,
            budget: None,
        }
    }
}

/// XDP actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum XdpAction {
    Aborted,
    Drop,
    Pass,
    Tx,
    Redirect,
    /// A value that is no `XDP_*` action (the kernel warns and drops).
    Invalid(u32),
}

impl XdpAction {
    /// The action of a program's return value.
    pub fn from_r0(r0: u64) -> XdpAction {
        match r0 as u32 {
            0 => XdpAction::Aborted,
            1 => XdpAction::Drop,
            2 => XdpAction::Pass,
            3 => XdpAction::Tx,
            4 => XdpAction::Redirect,
            v => XdpAction::Invalid(v),
        }
    }
}

/// What happened to one packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// An XDP program's action.
    Xdp(XdpAction),
    /// A socket filter kept this many bytes (0: dropped).
    Keep(u32),
    /// The run failed (memory fault, helper error, budget): the packet is dropped.
    Fault(VmError),
    /// The packet was not run: its link type is unsupported or it is shorter than its
    /// link-layer header (network view).
    Skipped,
}

/// The result of one packet.
#[derive(Debug)]
pub struct PacketOutcome<'a> {
    pub verdict: Verdict,
    /// `r0`, when the run ended normally.
    pub r0: Option<u64>,
    /// The packet as it leaves: XDP's `data..data_end` (modified in place, moved by
    /// `adjust_*`), or a socket filter's kept bytes (with the link-layer header in the
    /// network view). Empty when skipped or faulted.
    pub data: &'a [u8],
    /// XDP metadata (`data_meta..data`) the program left; empty otherwise.
    pub meta: &'a [u8],
    /// Whether the packet goes to the output capture.
    pub passes: bool,
    /// The interface an XDP program redirected to with `bpf_redirect` (0: none).
    pub redirect_ifindex: u32,
}

/// XDP verdict counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XdpCounts {
    pub aborted: u64,
    pub drop: u64,
    pub pass: u64,
    pub tx: u64,
    pub redirect: u64,
    pub invalid: u64,
}

/// Socket-filter counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SocketCounts {
    /// Packets with a non-zero return.
    pub accepted: u64,
    /// Packets with return 0.
    pub dropped: u64,
    /// Accepted packets cut short (return < length).
    pub trimmed: u64,
    /// Bytes kept over all accepted packets.
    pub accepted_bytes: u64,
}

/// Totals of a capture run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PacketStats {
    pub packets: u64,
    /// Captured bytes read.
    pub bytes: u64,
    /// Packets whose capture was cut (caplen < wire length).
    pub truncated: u64,
    /// Packets not run (unsupported link type, too short for their link header).
    pub skipped: u64,
    pub xdp: XdpCounts,
    pub socket: SocketCounts,
    /// Runs that failed; the first failure and its packet index (0-based).
    pub faults: u64,
    pub first_fault: Option<(u64, VmError)>,
    /// Packets written to the output capture.
    pub written: u64,
    /// Passing packets that could not be written (other link type than the output's,
    /// larger than its snap length).
    pub not_written: u64,
    /// Time spent preparing and running packets (excluding capture I/O).
    pub run_time: Duration,
}

impl PacketStats {
    /// Packets per second of run time.
    pub fn pps(&self) -> f64 {
        let s = self.run_time.as_secs_f64();
        if s > 0.0 {
            self.packets as f64 / s
        } else {
            0.0
        }
    }
}

/// Runs one program over packets. See the module documentation.
pub struct PacketRunner<'e> {
    exec: &'e dyn Executable,
    kind: ProgramKind,
    opts: PacketOptions,
    mem: LowMem,
    /// Output bytes of the last packet (socket filters in the network view).
    out: Vec<u8>,
}

impl std::fmt::Debug for PacketRunner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PacketRunner")
            .field("kind", &self.kind)
            .field("opts", &self.opts)
            .field("frame_bytes", &self.mem.len())
            .finish()
    }
}

impl<'e> PacketRunner<'e> {
    /// A runner with default options. The program's helpers must include the packet
    /// helpers it calls ([`register_helpers`]).
    pub fn new(
        exec: &'e dyn Executable,
        kind: ProgramKind,
    ) -> Result<PacketRunner<'e>, PacketError> {
        PacketRunner::with_options(exec, kind, PacketOptions::default())
    }

    /// A runner with options.
    pub fn with_options(
        exec: &'e dyn Executable,
        kind: ProgramKind,
        opts: PacketOptions,
    ) -> Result<PacketRunner<'e>, PacketError> {
        Ok(PacketRunner {
            exec,
            kind,
            opts,
            mem: LowMem::new(CTX_PAGE + FRAME_SIZE).map_err(PacketError::Memory)?,
            out: Vec::new(),
        })
    }

    /// Runs the program on one packet of link type `link`. `wire_len` is its length on
    /// the wire (≥ `pkt.len()` for truncated captures), `ts` its timestamp.
    pub fn run_packet(
        &mut self,
        link: LinkType,
        pkt: &[u8],
        wire_len: u32,
        ts: Duration,
    ) -> Result<PacketOutcome<'_>, PacketError> {
        let frame_size = (HEADROOM + pkt.len() + TAILROOM).div_ceil(4096).max(1) * 4096;
        if self.mem.len() < CTX_PAGE + frame_size {
            self.mem = LowMem::new(CTX_PAGE + frame_size).map_err(PacketError::Memory)?;
        }
        let base = self.mem.addr();
        let ctx_addr = base;
        let hard_start = base + CTX_PAGE as u64;
        let data = hard_start + HEADROOM as u64;
        let data_end = data + pkt.len() as u64;
        {
            let m = self.mem.as_mut_slice();
            let off = CTX_PAGE + HEADROOM;
            m[off..off + pkt.len()].copy_from_slice(pkt);
            m[..sk_buff::SIZE].fill(0);
        }
        let (l2_len, proto) = match link.header(pkt) {
            Some(h) => h,
            None if self.kind == ProgramKind::SocketFilter
                && self.opts.skb_view == SkbView::Network =>
            {
                return Ok(skipped());
            }
            None => (pkt.len(), [0, 0]),
        };
        let mut env = PacketEnv {
            frame: self.mem.raw(),
            kind: EnvKind::Xdp,
            ctx: ctx_addr,
            hard_start,
            hard_end: hard_start + (frame_size - TAILROOM) as u64,
            data,
            data_end,
            data_meta: data,
            mac: data,
            network: data + l2_len as u64,
            redirect_ifindex: 0,
        };
        let mut rc = RunContext::new();
        rc.budget = self.opts.budget;
        rc.args[0] = ctx_addr;
        match self.kind {
            ProgramKind::Xdp => {
                let m = self.mem.as_mut_slice();
                put_u32(m, xdp_md::DATA, data as u32);
                put_u32(m, xdp_md::DATA_END, data_end as u32);
                put_u32(m, xdp_md::DATA_META, data as u32);
                put_u32(m, xdp_md::INGRESS_IFINDEX, self.opts.ifindex);
                put_u32(m, xdp_md::RX_QUEUE_INDEX, self.opts.rx_queue_index);
                self.mem.grant(
                    &mut rc,
                    MemoryRegion::new(ctx_addr, xdp_md::SIZE as u64, false, RegionKind::Context),
                );
                self.mem.grant(
                    &mut rc,
                    MemoryRegion::new(data, data_end - data, true, RegionKind::Packet),
                );
            }
            ProgramKind::SocketFilter => {
                env.kind = EnvKind::Skb;
                if self.opts.skb_view == SkbView::Network {
                    env.data = env.network;
                }
                let skb_len = (env.data_end - env.data) as u32;
                let cut = (env.data - data) as u32;
                let pkt_type = match (link, pkt.first()) {
                    (LinkType::Ethernet, Some(_))
                        if pkt[..6.min(pkt.len())].iter().all(|&b| b == 0xff) && pkt.len() >= 6 =>
                    {
                        1
                    }
                    (LinkType::Ethernet, Some(b)) if b & 1 == 1 => 2,
                    _ => 0,
                };
                let m = self.mem.as_mut_slice();
                put_u32(m, sk_buff::LEN, skb_len);
                put_u32(m, sk_buff::PKT_TYPE, pkt_type);
                put_u32(m, sk_buff::QUEUE_MAPPING, self.opts.rx_queue_index);
                put_u32(m, sk_buff::PROTOCOL, u16::from_ne_bytes(proto) as u32);
                put_u32(m, sk_buff::INGRESS_IFINDEX, self.opts.ifindex);
                put_u32(m, sk_buff::IFINDEX, self.opts.ifindex);
                put_u32(m, sk_buff::DATA, env.data as u32);
                put_u32(m, sk_buff::DATA_END, env.data_end as u32);
                put_u32(m, sk_buff::DATA_META, env.data as u32);
                put_u64(m, sk_buff::TSTAMP, ts.as_nanos() as u64);
                put_u32(m, sk_buff::WIRE_LEN, wire_len.saturating_sub(cut));
                self.mem.grant(
                    &mut rc,
                    MemoryRegion::new(ctx_addr, sk_buff::SIZE as u64, false, RegionKind::Context),
                );
                self.mem.grant(
                    &mut rc,
                    MemoryRegion::new(
                        ctx_addr + sk_buff::CB as u64,
                        sk_buff::CB_LEN as u64,
                        true,
                        RegionKind::Context,
                    ),
                );
                self.mem.grant(
                    &mut rc,
                    MemoryRegion::new(env.data, env.data_end - env.data, false, RegionKind::Packet),
                );
            }
        }
        let skb_start = env.data;
        let result = {
            let mut rc = rc.with_env(&mut env);
            self.exec.run(&mut rc)
        };
        let r0 = match result {
            Ok(o) => o.r0,
            Err(e) => {
                return Ok(PacketOutcome {
                    verdict: Verdict::Fault(e),
                    r0: None,
                    data: &[],
                    meta: &[],
                    passes: false,
                    redirect_ifindex: 0,
                })
            }
        };
        let m = self.mem.as_slice();
        let at = |addr: u64| (addr - base) as usize;
        match self.kind {
            ProgramKind::Xdp => {
                let action = XdpAction::from_r0(r0);
                let passes =
                    action == XdpAction::Pass || (self.opts.write_tx && action == XdpAction::Tx);
                Ok(PacketOutcome {
                    verdict: Verdict::Xdp(action),
                    r0: Some(r0),
                    data: &m[at(env.data)..at(env.data_end)],
                    meta: &m[at(env.data_meta)..at(env.data)],
                    passes,
                    redirect_ifindex: env.redirect_ifindex,
                })
            }
            ProgramKind::SocketFilter => {
                let len = env.data_end - skb_start;
                let keep = (r0 as u32 as u64).min(len);
                self.out.clear();
                if keep > 0 {
                    // The link-layer header (network view), then the kept bytes.
                    self.out
                        .extend_from_slice(&m[at(data)..at(skb_start + keep)]);
                }
                Ok(PacketOutcome {
                    verdict: Verdict::Keep(keep as u32),
                    r0: Some(r0),
                    data: &self.out,
                    meta: &[],
                    passes: keep > 0,
                    redirect_ifindex: 0,
                })
            }
        }
    }

    /// Runs every packet of a pcap or pcapng capture (detected by its magic number) and
    /// writes the passing packets to `output` as a pcap file, if given.
    pub fn run_pcap(
        &mut self,
        input: impl Read,
        output: Option<&mut dyn Write>,
    ) -> Result<PacketStats, PacketError> {
        let mut input = BufReader::new(input);
        let magic = {
            let b = input.fill_buf().map_err(PacketError::Read)?;
            if b.len() < 4 {
                return Err(PacketError::Capture(format!(
                    "{} bytes: too short for a pcap or pcapng header",
                    b.len()
                )));
            }
            [b[0], b[1], b[2], b[3]]
        };
        let mut sink = Sink::new(output);
        let mut stats = PacketStats::default();
        if magic == [0x0a, 0x0d, 0x0d, 0x0a] {
            let mut r = PcapNgReader::new(input)
                .map_err(|e| PacketError::Capture(format!("pcapng: {e}")))?;
            let mut links: Vec<DataLink> = Vec::new();
            while let Some(block) = r.next_block() {
                let index = stats.packets;
                let block = block.map_err(|e| PacketError::Packet {
                    index,
                    message: format!("pcapng block: {e}"),
                })?;
                let (iface, ts, wire, data) = match &block {
                    Block::SectionHeader(_) => {
                        links.clear();
                        continue;
                    }
                    Block::InterfaceDescription(i) => {
                        links.push(i.linktype);
                        continue;
                    }
                    Block::EnhancedPacket(p) => {
                        (p.interface_id, p.timestamp, p.original_len, &p.data[..])
                    }
                    Block::SimplePacket(p) => (0, Duration::ZERO, p.original_len, &p.data[..]),
                    Block::Packet(p) => (
                        p.interface_id as u32,
                        // Obsolete block: timestamps in the default microseconds.
                        Duration::from_micros(p.timestamp),
                        p.original_len,
                        &p.data[..],
                    ),
                    _ => continue,
                };
                let link =
                    links
                        .get(iface as usize)
                        .copied()
                        .ok_or_else(|| PacketError::Packet {
                            index,
                            message: format!(
                                "packet of interface {iface}, but the section describes {}",
                                links.len()
                            ),
                        })?;
                // A simple packet block's data may carry padding beyond the packet.
                let data = &data[..data.len().min(wire as usize)];
                self.one(&mut stats, &mut sink, link, data, wire, ts)?;
            }
        } else {
            const PCAP_MAGICS: [[u8; 4]; 4] = [
                [0xd4, 0xc3, 0xb2, 0xa1],
                [0xa1, 0xb2, 0xc3, 0xd4],
                [0x4d, 0x3c, 0xb2, 0xa1],
                [0xa1, 0xb2, 0x3c, 0x4d],
            ];
            if !PCAP_MAGICS.contains(&magic) {
                return Err(PacketError::Capture(format!(
                    "not a pcap or pcapng file: it starts with {:02x} {:02x} {:02x} {:02x} \
                     (pcap files start with d4 c3 b2 a1 or a1 b2 c3 d4, pcapng files with 0a 0d 0d 0a)",
                    magic[0], magic[1], magic[2], magic[3]
                )));
            }
            let mut r =
                PcapReader::new(input).map_err(|e| PacketError::Capture(format!("pcap: {e}")))?;
            let link = r.header().datalink;
            while let Some(p) = r.next_packet() {
                let index = stats.packets;
                let p = p.map_err(|e| PacketError::Packet {
                    index,
                    message: format!("pcap record: {e}"),
                })?;
                self.one(
                    &mut stats,
                    &mut sink,
                    link,
                    &p.data,
                    p.orig_len,
                    p.timestamp,
                )?;
            }
        }
        sink.finish()?;
        stats.written = sink.written;
        stats.not_written = sink.not_written;
        Ok(stats)
    }

    fn one(
        &mut self,
        stats: &mut PacketStats,
        sink: &mut Sink<'_>,
        link: DataLink,
        data: &[u8],
        wire: u32,
        ts: Duration,
    ) -> Result<(), PacketError> {
        let index = stats.packets;
        stats.packets += 1;
        stats.bytes += data.len() as u64;
        let wire = wire.max(data.len() as u32);
        if (data.len() as u32) < wire {
            stats.truncated += 1;
        }
        let Some(lt) = LinkType::from_datalink(link) else {
            stats.skipped += 1;
            return Ok(());
        };
        let kind = self.kind;
        let start = Instant::now();
        let out = self.run_packet(lt, data, wire, ts)?;
        stats.run_time += start.elapsed();
        match &out.verdict {
            Verdict::Xdp(a) => {
                let c = &mut stats.xdp;
                match a {
                    XdpAction::Aborted => c.aborted += 1,
                    XdpAction::Drop => c.drop += 1,
                    XdpAction::Pass => c.pass += 1,
                    XdpAction::Tx => c.tx += 1,
                    XdpAction::Redirect => c.redirect += 1,
                    XdpAction::Invalid(_) => c.invalid += 1,
                }
            }
            Verdict::Keep(0) => stats.socket.dropped += 1,
            Verdict::Keep(n) => {
                let s = &mut stats.socket;
                s.accepted += 1;
                s.accepted_bytes += *n as u64;
                if (out.data.len() as u64) < data.len() as u64 {
                    s.trimmed += 1;
                }
            }
            Verdict::Fault(e) => {
                stats.faults += 1;
                if stats.first_fault.is_none() {
                    log::debug!("packet {index}: {e}");
                    stats.first_fault = Some((index, e.clone()));
                }
            }
            Verdict::Skipped => stats.skipped += 1,
        }
        if out.passes {
            // Bytes past the capture stay as long as they were on the wire.
            let uncaptured = wire - data.len() as u32;
            let orig = if out.data.len() == data.len() {
                wire
            } else if kind == ProgramKind::SocketFilter {
                out.data.len() as u32
            } else {
                out.data.len() as u32 + uncaptured
            };
            sink.write(link, out.data, orig, ts)?;
        }
        Ok(())
    }
}

fn skipped<'a>() -> PacketOutcome<'a> {
    PacketOutcome {
        verdict: Verdict::Skipped,
        r0: None,
        data: &[],
        meta: &[],
        passes: false,
        redirect_ifindex: 0,
    }
}

/// The output capture, created at the first passing packet with its link type.
struct Sink<'w> {
    out: Option<&'w mut dyn Write>,
    writer: Option<(DataLink, PcapWriter<&'w mut dyn Write>)>,
    written: u64,
    not_written: u64,
}

impl<'w> Sink<'w> {
    fn new(out: Option<&'w mut dyn Write>) -> Sink<'w> {
        Sink {
            out,
            writer: None,
            written: 0,
            not_written: 0,
        }
    }

    fn write(
        &mut self,
        link: DataLink,
        data: &[u8],
        orig_len: u32,
        ts: Duration,
    ) -> Result<(), PacketError> {
        if self.writer.is_none() {
            let Some(out) = self.out.take() else {
                return Ok(());
            };
            let header = PcapHeader {
                datalink: link,
                snaplen: OUT_SNAPLEN,
                ts_resolution: TsResolution::NanoSecond,
                endianness: Endianness::native(),
                ..PcapHeader::default()
            };
            let w = PcapWriter::with_header(out, header)
                .map_err(|e| PacketError::Write(e.to_string()))?;
            self.writer = Some((link, w));
        }
        let Some((out_link, w)) = self.writer.as_mut() else {
            return Ok(());
        };
        if *out_link != link || data.len() > OUT_SNAPLEN as usize {
            self.not_written += 1;
            return Ok(());
        }
        w.write_packet(&PcapPacket::new(ts, orig_len.max(data.len() as u32), data))
            .map_err(|e| PacketError::Write(e.to_string()))?;
        self.written += 1;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), PacketError> {
        if let Some((_, w)) = self.writer.take() {
            w.into_writer()
                .flush()
                .map_err(|e| PacketError::Write(e.to_string()))?;
        }
        Ok(())
    }
}
