//! Registers and stack slots as text for logs and error reports.

use super::Env;
use crate::state::{RegState, RegType, Slot, StackByte};
use oxbpf_isa::{CallTarget, Insn};

impl Env<'_> {
    /// Kernel-log-like description of a register.
    pub(crate) fn describe_reg(&self, r: &RegState) -> String {
        let mut parts: Vec<String> = Vec::new();
        let base = match r.ty {
            RegType::NotInit => return "?".to_string(),
            RegType::Scalar => {
                let s = r.val.to_string();
                if r.id != 0 {
                    return format!("{s} (id={})", r.id);
                }
                return s;
            }
            RegType::Stack { frame } => {
                let off = r.off as i64 + r.val.var_off.value as i64;
                if r.has_const_offset() {
                    return if frame == 0 {
                        format!("fp{off}")
                    } else {
                        format!("fp{off} (frame {frame})")
                    };
                }
                parts.push(format!("off={}", r.off));
                parts.push(format!("var={}", r.val));
                format!("fp[frame {frame}]")
            }
            RegType::MapValue { map } | RegType::Map { map } => {
                let m = &self.conf.maps[map as usize];
                parts.push(format!("map={}", m.name));
                if matches!(r.ty, RegType::MapValue { .. }) {
                    parts.push(format!("vs={}", m.value_size));
                } else {
                    parts.push(format!("ks={},vs={}", m.key_size, m.value_size));
                }
                r.ty.name().to_string()
            }
            RegType::Mem { size, .. } => {
                parts.push(format!("sz={size}"));
                r.ty.name().to_string()
            }
            RegType::Packet | RegType::PacketMeta => {
                parts.push(format!("r={}", r.range));
                r.ty.name().to_string()
            }
            RegType::Func { subprog } => {
                parts.push(format!("subprog={subprog}"));
                r.ty.name().to_string()
            }
            t => t.name().to_string(),
        };
        if r.off != 0 && !matches!(r.ty, RegType::Stack { .. }) {
            parts.push(format!("off={}", r.off));
        }
        if !r.has_const_offset() && !matches!(r.ty, RegType::Stack { .. }) {
            parts.push(format!("var={}", r.val));
        } else if r.val.var_off.value != 0 && !matches!(r.ty, RegType::Stack { .. }) {
            parts.push(format!("var={}", r.val.var_off.value as i64));
        }
        if r.id != 0 {
            parts.push(format!("id={}", r.id));
        }
        if r.ref_id != 0 {
            parts.push(format!("ref={}", r.ref_id));
        }
        let name = if r.maybe_null {
            format!("{base}_or_null")
        } else {
            base
        };
        format!("{name}({})", parts.join(","))
    }

    /// A stack slot: byte kinds (lowest address first) and the spilled register.
    pub(crate) fn describe_slot(&self, s: &Slot) -> String {
        let bytes: String = s
            .bytes
            .iter()
            .map(|b| match b {
                StackByte::Invalid => '?',
                StackByte::Misc => 'm',
                StackByte::Zero => '0',
                StackByte::Spill => 'r',
            })
            .collect();
        if s.spilled.is_init() && s.bytes.contains(&StackByte::Spill) {
            format!("{bytes} {}", self.describe_reg(&s.spilled))
        } else {
            bytes
        }
    }

    /// Where a register's value came from, in words ("bpf_map_lookup_elem at instruction 5
    /// (prog.c:12)").
    pub(crate) fn origin_of(&self, r: &RegState) -> Option<String> {
        if r.origin == crate::state::ORIGIN_ENTRY {
            return Some("program entry".to_string());
        }
        let o = r.origin as usize;
        if o >= self.prog.len() || matches!(r.ty, RegType::Stack { .. }) && r.off == 0 {
            return None;
        }
        let at = self.where_(o);
        Some(match self.prog.insns()[o] {
            Insn::Call(CallTarget::Helper(id)) => {
                if r.is_init() {
                    format!("{} at {at}", self.helper_name(id))
                } else {
                    format!("the call to {} at {at}", self.helper_name(id))
                }
            }
            Insn::Call(CallTarget::Local(_)) => format!("the function call at {at}"),
            Insn::Load { .. } => format!("the load at {at}"),
            _ => at,
        })
    }
}
