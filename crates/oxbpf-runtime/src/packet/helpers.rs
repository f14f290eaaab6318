//! Helpers that need the packet being processed: `bpf_redirect` (XDP),
//! `bpf_xdp_adjust_head`/`_meta`/`_tail`,
//! `bpf_xdp_load_bytes`/`_store_bytes`/`_get_buff_len`, `bpf_skb_load_bytes` and
//! `bpf_skb_load_bytes_relative`, with the kernel's checks and errno values
//! (`net/core/filter.c`). They find the packet in the run's environment
//! ([`PacketEnv`], set by the [`PacketRunner`](super::PacketRunner)); called from a run
//! without one they abort it.

use super::ctx::xdp_md;
use super::frame::RawFrame;
use oxbpf_vm::{HelperCtx, HelperError, Helpers, MemoryRegion, RegionKind};

pub const BPF_FUNC_REDIRECT: u32 = 23;
pub const BPF_FUNC_SKB_LOAD_BYTES: u32 = 26;
pub const BPF_FUNC_XDP_ADJUST_HEAD: u32 = 44;
pub const BPF_FUNC_XDP_ADJUST_META: u32 = 54;
pub const BPF_FUNC_XDP_ADJUST_TAIL: u32 = 65;
pub const BPF_FUNC_SKB_LOAD_BYTES_RELATIVE: u32 = 68;
pub const BPF_FUNC_XDP_GET_BUFF_LEN: u32 = 188;
pub const BPF_FUNC_XDP_LOAD_BYTES: u32 = 189;
pub const BPF_FUNC_XDP_STORE_BYTES: u32 = 190;

/// `ETH_HLEN`: `adjust_head`/`adjust_tail` keep at least an Ethernet header.
const ETH_HLEN: u64 = 14;
/// `sizeof(struct xdp_frame)` on x86-64: the kernel keeps it free at the start of the
/// headroom, so `adjust_head`/`adjust_meta` cannot reach the first bytes of the frame.
pub const XDP_FRAME_RESERVED: u64 = 40;
/// Largest XDP metadata: `xdp_metalen_invalid` allows what fits
/// `skb_shared_info.meta_len`, a `u8` (Linux 6.x; 32 bytes before 5.19's change).
const XDP_META_MAX: u64 = 255;

const EINVAL: u64 = (-(libc::EINVAL as i64)) as u64;
const EFAULT: u64 = (-(libc::EFAULT as i64)) as u64;
const EACCES: u64 = (-(libc::EACCES as i64)) as u64;

/// Which context the run has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EnvKind {
    Xdp,
    Skb,
}

/// The packet state of one run, the environment the packet helpers work on.
#[derive(Clone, Copy, Debug)]
pub struct PacketEnv {
    pub(crate) frame: RawFrame,
    pub(crate) kind: EnvKind,
    pub(crate) ctx: u64,
    pub(crate) hard_start: u64,
    pub(crate) hard_end: u64,
    pub(crate) data: u64,
    pub(crate) data_end: u64,
    pub(crate) data_meta: u64,
    /// Link-layer and network headers (skb helpers).
    pub(crate) mac: u64,
    pub(crate) network: u64,
    /// The interface of the last `bpf_redirect` (XDP), 0 if none.
    pub(crate) redirect_ifindex: u32,
}

impl PacketEnv {
    /// Stores the new state, writes the pointer fields of the XDP context and gives the
    /// run the new packet and metadata regions in place of the old ones.
    fn xdp_commit(self, hctx: &mut HelperCtx<'_>, old: &PacketEnv) -> Result<(), HelperError> {
        *env(hctx, "xdp", EnvKind::Xdp)? = self;
        for (off, v) in [
            (xdp_md::DATA, self.data),
            (xdp_md::DATA_END, self.data_end),
            (xdp_md::DATA_META, self.data_meta),
        ] {
            self.frame
                .write(self.ctx + off as u64, &(v as u32).to_ne_bytes());
        }
        hctx.remove_region(old.data, RegionKind::Packet);
        if old.data > old.data_meta {
            hctx.remove_region(old.data_meta, RegionKind::Packet);
        }
        self.frame.grant(
            hctx,
            MemoryRegion::new(
                self.data_meta,
                self.data - self.data_meta,
                true,
                RegionKind::Packet,
            ),
        );
        self.frame.grant(
            hctx,
            MemoryRegion::new(
                self.data,
                self.data_end - self.data,
                true,
                RegionKind::Packet,
            ),
        );
        Ok(())
    }
}

fn env<'h>(
    hctx: &'h mut HelperCtx<'_>,
    name: &str,
    kind: EnvKind,
) -> Result<&'h mut PacketEnv, HelperError> {
    match crate::env::find_mut::<PacketEnv>(hctx) {
        Some(e) if e.kind == kind => Ok(e),
        Some(_) => Err(HelperError::Abort(format!(
            "{name}: not available for this program type"
        ))),
        None => Err(HelperError::Abort(format!(
            "{name}: called outside a packet run (no packet in the run's environment)"
        ))),
    }
}

/// The run's packet state, after checking that argument 1 is the context.
fn state(
    hctx: &mut HelperCtx<'_>,
    name: &str,
    kind: EnvKind,
    ctx_arg: u64,
) -> Result<PacketEnv, HelperError> {
    let e = *env(hctx, name, kind)?;
    if ctx_arg != e.ctx {
        return Err(HelperError::Abort(format!(
            "{name}: argument 1 (0x{ctx_arg:x}) is not the program's context"
        )));
    }
    Ok(e)
}

fn adjust_head(hctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let old = state(hctx, "bpf_xdp_adjust_head", EnvKind::Xdp, a[0])?;
    let offset = a[1] as i32 as i64;
    let metalen = old.data - old.data_meta;
    let data_start = old.hard_start + XDP_FRAME_RESERVED + metalen;
    let data = old.data as i64 + offset;
    if data < data_start as i64 || data > (old.data_end - ETH_HLEN) as i64 {
        return Ok(EINVAL);
    }
    let mut st = old;
    st.data_meta = (old.data_meta as i64 + offset) as u64;
    st.data = data as u64;
    if metalen > 0 {
        st.frame.memmove(st.data_meta, old.data_meta, metalen);
    }
    st.xdp_commit(hctx, &old)?;
    Ok(0)
}

fn adjust_meta(hctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let old = state(hctx, "bpf_xdp_adjust_meta", EnvKind::Xdp, a[0])?;
    let offset = a[1] as i32 as i64;
    let meta = old.data_meta as i64 + offset;
    if meta < (old.hard_start + XDP_FRAME_RESERVED) as i64 || meta > old.data as i64 {
        return Ok(EINVAL);
    }
    let metalen = old.data - meta as u64;
    if !metalen.is_multiple_of(4) || metalen > XDP_META_MAX {
        return Ok(EACCES);
    }
    let mut st = old;
    st.data_meta = meta as u64;
    st.xdp_commit(hctx, &old)?;
    Ok(0)
}

fn adjust_tail(hctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let old = state(hctx, "bpf_xdp_adjust_tail", EnvKind::Xdp, a[0])?;
    let offset = a[1] as i32 as i64;
    let end = old.data_end as i64 + offset;
    if end > old.hard_end as i64 || end < (old.data + ETH_HLEN) as i64 {
        return Ok(EINVAL);
    }
    if offset > 0 {
        // Grown bytes are zeroed, as the kernel does.
        old.frame.fill(old.data_end, offset as u64, 0);
    }
    let mut st = old;
    st.data_end = end as u64;
    st.xdp_commit(hctx, &old)?;
    Ok(0)
}

/// `bpf_redirect(ifindex, flags)` for XDP: records the target and returns
/// `XDP_REDIRECT`, or `XDP_ABORTED` for non-zero flags (`bpf_xdp_redirect`).
fn redirect(hctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let e = env(hctx, "bpf_redirect", EnvKind::Xdp)?;
    if a[1] != 0 {
        return Ok(0);
    }
    e.redirect_ifindex = a[0] as u32;
    Ok(4)
}

fn xdp_get_buff_len(hctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let st = state(hctx, "bpf_xdp_get_buff_len", EnvKind::Xdp, a[0])?;
    Ok(st.data_end - st.data)
}

/// `bpf_xdp_load_bytes(xdp, offset, buf, len)` / `bpf_xdp_store_bytes`.
fn xdp_bytes(hctx: &mut HelperCtx<'_>, a: [u64; 5], store: bool) -> Result<u64, HelperError> {
    let name = if store {
        "bpf_xdp_store_bytes"
    } else {
        "bpf_xdp_load_bytes"
    };
    let st = state(hctx, name, EnvKind::Xdp, a[0])?;
    let (offset, buf, len) = (a[1] as u32 as u64, a[2], a[3] as u32 as u64);
    if offset > 0xffff || len > 0xffff || offset + len > st.data_end - st.data {
        return Ok(EINVAL);
    }
    let at = st.data + offset;
    if store {
        let src = hctx.read(buf, len as usize)?;
        st.frame.write(at, src);
    } else {
        let dst = hctx.write(buf, len as usize)?;
        st.frame.read(at, dst);
    }
    Ok(0)
}

fn skb_load_bytes(hctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let st = state(hctx, "bpf_skb_load_bytes", EnvKind::Skb, a[0])?;
    let (offset, to, len) = (a[1] as u32 as u64, a[2], a[3] as u32 as usize);
    let dst = hctx.write(to, len)?;
    let ok = offset <= i32::MAX as u64
        && offset + len as u64 <= st.data_end - st.data
        && st.frame.read(st.data + offset, dst);
    if ok {
        Ok(0)
    } else {
        dst.fill(0);
        Ok(EFAULT)
    }
}

/// `BPF_HDR_START_MAC` / `BPF_HDR_START_NET`.
const BPF_HDR_START_MAC: u64 = 0;
const BPF_HDR_START_NET: u64 = 1;

fn skb_load_bytes_relative(hctx: &mut HelperCtx<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let st = state(hctx, "bpf_skb_load_bytes_relative", EnvKind::Skb, a[0])?;
    let (offset, to, len, hdr) = (a[1] as u32 as u64, a[2], a[3] as u32 as usize, a[4]);
    let dst = hctx.write(to, len)?;
    let start = match hdr {
        BPF_HDR_START_MAC => Some(st.mac),
        BPF_HDR_START_NET => Some(st.network),
        _ => None,
    };
    let ok = match start {
        Some(start) if offset <= 0xffff => {
            start + offset + len as u64 <= st.data_end && st.frame.read(start + offset, dst)
        }
        _ => false,
    };
    if ok {
        Ok(0)
    } else {
        dst.fill(0);
        Ok(EFAULT)
    }
}

/// Registers the packet helpers (by their Linux ids) in `helpers`.
pub fn register(helpers: &mut Helpers) -> &mut Helpers {
    helpers
        .register(BPF_FUNC_REDIRECT, "bpf_redirect", redirect)
        .register(BPF_FUNC_XDP_ADJUST_HEAD, "bpf_xdp_adjust_head", adjust_head)
        .register(BPF_FUNC_XDP_ADJUST_META, "bpf_xdp_adjust_meta", adjust_meta)
        .register(BPF_FUNC_XDP_ADJUST_TAIL, "bpf_xdp_adjust_tail", adjust_tail)
        .register(
            BPF_FUNC_XDP_GET_BUFF_LEN,
            "bpf_xdp_get_buff_len",
            xdp_get_buff_len,
        )
        .register(BPF_FUNC_XDP_LOAD_BYTES, "bpf_xdp_load_bytes", |h, a| {
            xdp_bytes(h, a, false)
        })
        .register(BPF_FUNC_XDP_STORE_BYTES, "bpf_xdp_store_bytes", |h, a| {
            xdp_bytes(h, a, true)
        })
        .register(
            BPF_FUNC_SKB_LOAD_BYTES,
            "bpf_skb_load_bytes",
            skb_load_bytes,
        )
        .register(
            BPF_FUNC_SKB_LOAD_BYTES_RELATIVE,
            "bpf_skb_load_bytes_relative",
            skb_load_bytes_relative,
        )
}
