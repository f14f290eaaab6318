//! The kernel's packet contexts, `struct xdp_md` and `struct __sk_buff` (uapi
//! `<linux/bpf.h>`): field offsets and how oxbpf fills them.

/// `struct xdp_md` field offsets (all `__u32`).
pub mod xdp_md {
    pub const DATA: usize = 0;
    pub const DATA_END: usize = 4;
    pub const DATA_META: usize = 8;
    pub const INGRESS_IFINDEX: usize = 12;
    pub const RX_QUEUE_INDEX: usize = 16;
    pub const EGRESS_IFINDEX: usize = 20;
    /// `sizeof(struct xdp_md)`.
    pub const SIZE: usize = 24;
}

/// `struct __sk_buff` field offsets.
pub mod sk_buff {
    pub const LEN: usize = 0;
    pub const PKT_TYPE: usize = 4;
    pub const MARK: usize = 8;
    pub const QUEUE_MAPPING: usize = 12;
    /// `__be16` in the low half, as the kernel loads `skb->protocol`.
    pub const PROTOCOL: usize = 16;
    pub const VLAN_PRESENT: usize = 20;
    pub const VLAN_TCI: usize = 24;
    pub const VLAN_PROTO: usize = 28;
    pub const PRIORITY: usize = 32;
    pub const INGRESS_IFINDEX: usize = 36;
    pub const IFINDEX: usize = 40;
    pub const TC_INDEX: usize = 44;
    /// `__u32 cb[5]`.
    pub const CB: usize = 48;
    pub const CB_LEN: usize = 20;
    pub const HASH: usize = 68;
    pub const TC_CLASSID: usize = 72;
    pub const DATA: usize = 76;
    pub const DATA_END: usize = 80;
    pub const NAPI_ID: usize = 84;
    pub const FAMILY: usize = 88;
    pub const REMOTE_IP4: usize = 92;
    pub const LOCAL_IP4: usize = 96;
    pub const REMOTE_IP6: usize = 100;
    pub const LOCAL_IP6: usize = 116;
    pub const REMOTE_PORT: usize = 132;
    pub const LOCAL_PORT: usize = 136;
    pub const DATA_META: usize = 140;
    /// `__bpf_md_ptr(struct bpf_flow_keys *, flow_keys)`: 8 bytes.
    pub const FLOW_KEYS: usize = 144;
    pub const TSTAMP: usize = 152;
    pub const WIRE_LEN: usize = 160;
    pub const GSO_SEGS: usize = 164;
    /// `__bpf_md_ptr(struct bpf_sock *, sk)`: 8 bytes.
    pub const SK: usize = 168;
    pub const GSO_SIZE: usize = 176;
    pub const TSTAMP_TYPE: usize = 180;
    pub const HWTSTAMP: usize = 184;
    /// `sizeof(struct __sk_buff)`.
    pub const SIZE: usize = 192;
}

pub(crate) fn put_u32(buf: &mut [u8], off: usize, v: u32) {
    buf[off..off + 4].copy_from_slice(&v.to_ne_bytes());
}

pub(crate) fn put_u64(buf: &mut [u8], off: usize, v: u64) {
    buf[off..off + 8].copy_from_slice(&v.to_ne_bytes());
}
