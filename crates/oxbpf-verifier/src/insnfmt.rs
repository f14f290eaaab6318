//! Instructions as text: the ISA's LLVM-syntax disassembly, with helper calls named
//! (`call bpf_map_lookup_elem`, which the assembler reads back).

use crate::helpers;
use oxbpf_isa::{CallTarget, Insn, Syntax};

/// The instruction as text. `helper_name` resolves helper ids (embedder helpers first,
/// then the built-in names).
pub fn format_insn(insn: &Insn, helper_name: &dyn Fn(i32) -> Option<String>) -> String {
    if let Insn::Call(CallTarget::Helper(id)) = *insn {
        let name = helper_name(id)
            .or_else(|| helpers::linux_name(id).map(String::from))
            .or_else(|| {
                u32::try_from(id)
                    .ok()
                    .and_then(oxbpf_isa::helper_name)
                    .map(String::from)
            });
        if let Some(n) = name {
            return format!("call {n}");
        }
    }
    oxbpf_isa::format_insn(insn, Syntax::Llvm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_helpers() {
        let none = |_| None;
        assert_eq!(
            format_insn(&Insn::Call(CallTarget::Helper(1)), &none),
            "call bpf_map_lookup_elem"
        );
        assert_eq!(format_insn(&Insn::Exit, &none), "exit");
    }
}
