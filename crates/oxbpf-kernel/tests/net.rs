//! XDP, socket filters, tc and cgroup skb in the kernel, on a veth pair whose other end is
//! in a network namespace made by the test. Packets are UDP datagrams sent from inside the
//! namespace (bash's /dev/udp) and counted by the programs in a map.

mod common;

use std::time::Duration;

use common::*;
use oxbpf_kernel::{
    AttachTarget, Direction, FallbackPolicy, KernelError, KernelObject, Link, TcMode, UpdateMode,
    XdpMode,
};

const N: usize = 5;

fn load(port: u16) -> KernelObject {
    let obj = KernelObject::load_file(fixture("net.o")).unwrap();
    obj.map("config")
        .unwrap()
        .set(&0u32, &u32::from(port), UpdateMode::Any)
        .unwrap();
    obj
}

fn count(obj: &KernelObject, slot: u32) -> u64 {
    obj.map("counts")
        .unwrap()
        .get::<u32, u64>(&slot)
        .unwrap()
        .unwrap()
}

fn reset(obj: &KernelObject, slot: u32) {
    obj.map("counts")
        .unwrap()
        .set(&slot, &0u64, UpdateMode::Any)
        .unwrap();
}

#[test]
fn xdp_counts_packets_in_driver_and_skb_mode() {
    require_network!();
    let veth = VethPair::new('x');
    let port = 4100;
    let mut obj = load(port);

    for mode in [XdpMode::Driver, XdpMode::Skb] {
        reset(&obj, 0);
        let link = obj
            .attach_xdp("xdp_count", veth.host.as_str(), mode)
            .unwrap();
        assert_eq!(link.targets(), [format!("xdp:{}:{mode}", veth.host)]);
        veth.send_udp_to_host(port, N);
        assert_eq!(count(&obj, 0), N as u64, "XDP {mode}");
        link.detach().unwrap();
        veth.send_udp_to_host(port, 1);
        assert_eq!(
            count(&obj, 0),
            N as u64,
            "XDP {mode} still counting after detach"
        );
    }
    let ids = obj.program_ids();
    drop(obj);
    assert_unloaded(&ids);
}

#[test]
fn xdp_falls_back_from_driver_to_skb_mode() {
    require_network!();
    // A bridge has no native XDP.
    let br = format!("oxbr{}", std::process::id() % 10_000_000);
    let _ = std::process::Command::new("ip")
        .args(["link", "del", &br])
        .output();
    if std::process::Command::new("ip")
        .args(["link", "add", &br, "type", "bridge"])
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
    {
        println!("SKIP: cannot create a bridge device");
        return;
    }
    struct Del(String);
    impl Drop for Del {
        fn drop(&mut self) {
            let _ = std::process::Command::new("ip")
                .args(["link", "del", &self.0])
                .output();
        }
    }
    let _del = Del(br.clone());

    let mut obj = load(1);
    let e = obj
        .attach_xdp("xdp_count", br.as_str(), XdpMode::Driver)
        .unwrap_err();
    let KernelError::AttachUnsupported {
        reason,
        alternative,
        ..
    } = &e
    else {
        panic!("expected AttachUnsupported, got {e}")
    };
    assert!(
        reason.starts_with(&format!(
            "interface {br} cannot run XDP in native (driver) mode"
        )),
        "{reason}"
    );
    let alt = alternative.as_ref().unwrap();
    assert_eq!(
        alt.targets,
        [AttachTarget::parse(&format!("xdp:{br}:skb")).unwrap()]
    );
    assert!(
        e.to_string()
            .contains(&format!("the working alternative is xdp:{br}:skb")),
        "{e}"
    );

    let target = AttachTarget::parse(&format!("xdp:{br}:drv")).unwrap();
    let attached = obj
        .attach("xdp_count", &target, FallbackPolicy::IfContextUnused)
        .unwrap();
    assert_eq!(attached.link.targets(), [format!("xdp:{br}:skb")]);
    let notice = attached.notice().unwrap();
    assert!(
        notice.contains(&format!("attaching to xdp:{br}:skb instead")),
        "{notice}"
    );
    let ids = obj.program_ids();
    drop(obj);
    // The object's drop detached the link the caller still holds.
    assert!(!attached.link.is_attached());
    drop(attached);
    assert_unloaded(&ids);
}

#[test]
fn socket_filter_on_a_packet_socket_receives_only_matching_packets() {
    require_network!();
    let veth = VethPair::new('s');
    let port = 4200;
    let mut obj = load(port);
    let (link, sock) = obj
        .open_socket_filter("socket_count", veth.host.as_str())
        .unwrap();
    veth.send_udp_to_host(port, N);
    veth.send_udp_to_host(port + 1, 2);
    assert_eq!(count(&obj, 1), N as u64);

    // The socket got exactly the matching datagrams, each whole.
    let mut buf = [0u8; 2048];
    for i in 1..=N {
        let n = sock
            .recv_timeout(&mut buf, Duration::from_secs(5))
            .unwrap()
            .unwrap_or_else(|| panic!("packet {i} not received"));
        assert!(n >= 14 + 20 + 8, "{n} bytes");
        let dport = u16::from_be_bytes([buf[14 + 22], buf[14 + 23]]);
        assert_eq!(dport, port);
        let payload = String::from_utf8_lossy(&buf[42..n]);
        assert!(payload.starts_with("oxbpf-"), "{payload:?}");
    }
    assert_eq!(sock.try_recv(&mut buf).unwrap(), None);

    // Detached: the filter is gone, so the socket sees every packet again.
    link.detach().unwrap();
    veth.send_udp_to_host(port + 1, 1);
    assert!(sock
        .recv_timeout(&mut buf, Duration::from_secs(5))
        .unwrap()
        .is_some());
    assert_eq!(count(&obj, 1), N as u64);

    // The target form opens the socket itself.
    let t = AttachTarget::parse(&format!("socket:{}", veth.host)).unwrap();
    let attached = obj
        .attach("socket_count", &t, FallbackPolicy::Never)
        .unwrap();
    let sock2 = attached.socket.as_ref().unwrap();
    veth.send_udp_to_host(port, 1);
    assert!(sock2
        .recv_timeout(&mut buf, Duration::from_secs(5))
        .unwrap()
        .is_some());
    assert_eq!(count(&obj, 1), N as u64 + 1);

    let ids = obj.program_ids();
    drop(obj);
    drop(attached);
    assert_unloaded(&ids);
}

#[test]
fn tc_ingress_counts_with_tcx_and_netlink() {
    require_network!();
    let veth = VethPair::new('t');
    let port = 4300;
    let mut obj = load(port);
    for mode in [TcMode::Auto, TcMode::Netlink] {
        reset(&obj, 2);
        let link: Link = obj
            .attach_tc("tc_count", veth.host.as_str(), Direction::Ingress, mode)
            .unwrap();
        veth.send_udp_to_host(port, N);
        assert_eq!(count(&obj, 2), N as u64, "tc {mode:?}");
        drop(link);
        veth.send_udp_to_host(port, 1);
        assert_eq!(
            count(&obj, 2),
            N as u64,
            "tc {mode:?} counting after detach"
        );
    }
    let ids = obj.program_ids();
    drop(obj);
    assert_unloaded(&ids);
}

/// The cgroup v2 mount point, if any.
fn cgroup2_root() -> Option<std::path::PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        let (_, dir, ty) = (it.next()?, it.next()?, it.next()?);
        (ty == "cgroup2").then(|| std::path::PathBuf::from(dir))
    })
}

#[test]
fn cgroup_skb_egress_counts_a_child_processes_packets() {
    require_network!();
    let Some(root) = cgroup2_root() else {
        println!("SKIP: no cgroup v2 hierarchy is mounted");
        return;
    };
    let cg = root.join(format!("oxbpf-test-{}", std::process::id()));
    let _ = std::fs::remove_dir(&cg);
    if let Err(e) = std::fs::create_dir(&cg) {
        println!("SKIP: cannot create a cgroup under {}: {e}", root.display());
        return;
    }
    struct Rm(std::path::PathBuf);
    impl Drop for Rm {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir(&self.0);
        }
    }
    let _rm = Rm(cg.clone());

    let port = 4400;
    let mut obj = load(port);
    let link = obj
        .attach_cgroup_skb("cgroup_count", &cg, Direction::Egress)
        .unwrap();
    let e = obj
        .attach_cgroup_skb("cgroup_count", &cg, Direction::Ingress)
        .unwrap_err();
    assert!(
        e.to_string().contains("was written for cgroup egress"),
        "{e}"
    );

    let script = format!(
        "echo $$ > {}/cgroup.procs && for i in $(seq {N}); do echo x > /dev/udp/127.0.0.1/{port} || true; done",
        cg.display()
    );
    run("bash", &["-c", &script]);
    assert_eq!(count(&obj, 3), N as u64);
    drop(link);
    let ids = obj.program_ids();
    drop(obj);
    assert_unloaded(&ids);
}
