//! Helpers shared by the kernel tests.
#![allow(dead_code)]

use oxbpf_isa::{AluOp, Insn, JmpOp, Operand, Program, Reg, Size, Width};

/// Prints `SKIP: <reason>` and returns from the test when bpf() is unusable here.
#[macro_export]
macro_rules! require_bpf {
    () => {
        if let Some(reason) = oxbpf_kernel::probe::bpf_unavailable() {
            println!("SKIP: {reason}");
            return;
        }
    };
}

pub fn mov(dst: Reg, imm: i32) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst,
        src: Operand::Imm(imm),
    }
}

pub fn mov_reg(dst: Reg, src: Reg) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst,
        src: Operand::Reg(src),
    }
}

pub fn add(dst: Reg, imm: i32) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op: AluOp::Add,
        dst,
        src: Operand::Imm(imm),
    }
}

pub fn ldx(size: Size, dst: Reg, src: Reg, off: i16) -> Insn {
    Insn::Load {
        size,
        sign_extend: false,
        dst,
        src,
        off,
    }
}

pub fn st(size: Size, dst: Reg, off: i16, imm: i32) -> Insn {
    Insn::Store {
        size,
        dst,
        off,
        src: Operand::Imm(imm),
    }
}

pub fn jgt(dst: Reg, src: Reg, off: i16) -> Insn {
    Insn::Jump {
        width: Width::W64,
        op: JmpOp::Gt,
        dst,
        src: Operand::Reg(src),
        off,
    }
}

pub fn jeq_imm(dst: Reg, imm: i32, off: i16) -> Insn {
    Insn::Jump {
        width: Width::W64,
        op: JmpOp::Eq,
        dst,
        src: Operand::Imm(imm),
        off,
    }
}

pub fn program(insns: Vec<Insn>) -> Program {
    Program::from_insns(insns).expect("test program is well formed")
}

/// `r0 = value; exit`.
pub fn ret(value: i32) -> Program {
    program(vec![mov(Reg::R0, value), Insn::Exit])
}

/// A 64-byte Ethernet frame: broadcast destination, IPv4 ethertype, counting payload.
pub fn packet() -> Vec<u8> {
    let mut p: Vec<u8> = (0..64u8).collect();
    p[..6].copy_from_slice(&[0xff; 6]);
    p[12] = 0x08;
    p[13] = 0x00;
    p
}

/// This thread's id (what trace lines call `pid`).
pub fn gettid() -> u32 {
    let link = std::fs::read_link("/proc/thread-self").expect("/proc/thread-self");
    link.to_string_lossy()
        .rsplit('/')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("tid in /proc/thread-self")
}

pub fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Runs a command, panicking with its output when it fails.
pub fn run(cmd: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {}: {}\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Why a network test cannot run here, or `None`.
pub fn network_unavailable() -> Option<String> {
    if let Some(r) = oxbpf_kernel::probe::bpf_unavailable() {
        return Some(r.to_string());
    }
    static REASON: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    REASON
        .get_or_init(|| {
            for (cmd, args) in [("ip", &["-V"][..]), ("bash", &["-c", "true"][..])] {
                match std::process::Command::new(cmd).args(args).output() {
                    Ok(o) if o.status.success() => {}
                    _ => {
                        return Some(format!(
                            "`{cmd}` is not available (apt-get install iproute2 bash)"
                        ))
                    }
                }
            }
            // Try the real thing once: a namespace and a veth pair.
            let tag = format!("oxq{}", std::process::id() % 10_000_000);
            let try_run = |args: &[&str]| {
                std::process::Command::new("ip")
                    .args(args)
                    .output()
                    .map_err(|e| e.to_string())
                    .and_then(|o| {
                        if o.status.success() {
                            Ok(())
                        } else {
                            Err(String::from_utf8_lossy(&o.stderr).trim().to_string())
                        }
                    })
            };
            let peer = format!("{tag}p");
            let r = try_run(&["netns", "add", &tag])
                .map_err(|e| format!("cannot create a network namespace: {e}"))
                .and_then(|()| {
                    try_run(&["link", "add", &tag, "type", "veth", "peer", "name", &peer])
                        .map_err(|e| format!("cannot create a veth pair: {e}"))
                });
            let _ = try_run(&["link", "del", &tag]);
            let _ = try_run(&["netns", "del", &tag]);
            r.err()
        })
        .clone()
}

/// Prints `SKIP: <reason>` and returns when network namespaces and veth pairs cannot be
/// made here.
#[macro_export]
macro_rules! require_network {
    () => {
        if let Some(reason) = common::network_unavailable() {
            println!("SKIP: {reason}");
            return;
        }
    };
}

/// A veth pair: `host` in this network namespace (10.x.y.1), `peer` in a namespace of its
/// own (10.x.y.2), with static neighbour entries both ways so that no ARP traffic is
/// needed. Everything is deleted on drop, also when the test fails.
pub struct VethPair {
    pub ns: String,
    pub host: String,
    pub peer: String,
    pub host_ip: String,
    pub peer_ip: String,
}

impl VethPair {
    /// `tag` (one digit or letter) tells apart the pairs of the tests of one process.
    pub fn new(tag: char) -> VethPair {
        let pid = std::process::id();
        let pair = VethPair {
            ns: format!("oxbpf-{tag}-{pid}"),
            host: format!("oxh{tag}{}", pid % 10_000_000),
            peer: format!("oxp{tag}{}", pid % 10_000_000),
            host_ip: format!("10.{}.{}.1", 200 + (tag as u32 % 50), pid % 250),
            peer_ip: format!("10.{}.{}.2", 200 + (tag as u32 % 50), pid % 250),
        };
        // Leftovers of a crashed earlier run with the same pid.
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &pair.ns])
            .output();
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &pair.host])
            .output();
        run("ip", &["netns", "add", &pair.ns]);
        run(
            "ip",
            &[
                "link", "add", &pair.host, "type", "veth", "peer", "name", &pair.peer,
            ],
        );
        run("ip", &["link", "set", &pair.peer, "netns", &pair.ns]);
        run(
            "ip",
            &[
                "addr",
                "add",
                &format!("{}/24", pair.host_ip),
                "dev",
                &pair.host,
            ],
        );
        run("ip", &["link", "set", &pair.host, "up"]);
        pair.ns_run(&["ip", "link", "set", "lo", "up"]);
        pair.ns_run(&[
            "ip",
            "addr",
            "add",
            &format!("{}/24", pair.peer_ip),
            "dev",
            &pair.peer,
        ]);
        pair.ns_run(&["ip", "link", "set", &pair.peer, "up"]);
        let host_mac = std::fs::read_to_string(format!("/sys/class/net/{}/address", pair.host))
            .unwrap()
            .trim()
            .to_string();
        let peer_mac = pair
            .ns_run(&["cat", &format!("/sys/class/net/{}/address", pair.peer)])
            .trim()
            .to_string();
        pair.ns_run(&[
            "ip",
            "neigh",
            "replace",
            &pair.host_ip,
            "lladdr",
            &host_mac,
            "dev",
            &pair.peer,
            "nud",
            "permanent",
        ]);
        run(
            "ip",
            &[
                "neigh",
                "replace",
                &pair.peer_ip,
                "lladdr",
                &peer_mac,
                "dev",
                &pair.host,
                "nud",
                "permanent",
            ],
        );
        pair
    }

    /// Runs a command inside the namespace.
    pub fn ns_run(&self, args: &[&str]) -> String {
        let mut a = vec!["netns", "exec", &self.ns];
        a.extend_from_slice(args);
        run("ip", &a)
    }

    /// Sends `n` UDP datagrams from the namespace to `host_ip:port`, one socket each.
    pub fn send_udp_to_host(&self, port: u16, n: usize) {
        let script = format!(
            "for i in $(seq {n}); do echo oxbpf-$i > /dev/udp/{}/{port} || exit 1; done",
            self.host_ip
        );
        self.ns_run(&["bash", "-c", &script]);
    }
}

impl Drop for VethPair {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &self.host])
            .output();
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.ns])
            .output();
    }
}

/// Waits for the programs `ids` to be unloaded, failing the test when one stays.
pub fn assert_unloaded(ids: &[u32]) {
    for &id in ids {
        assert!(
            oxbpf_kernel::wait_unloaded(id, std::time::Duration::from_secs(10)).unwrap(),
            "program {id} is still loaded"
        );
    }
}
