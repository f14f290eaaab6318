//! Context descriptions: what a program's `r1` points to, field by field.
//!
//! A [`ContextDescriptor`] is plain data (serde-serializable) shared by the verifier, which
//! checks every context access against it, and the userspace runtime, which builds
//! contexts of that layout. Built-in descriptors cover the kernel program types; embedders
//! describe their own hooks with [`ContextDescriptor::new`] and [`ContextField`].

use serde::Serialize;
use std::borrow::Cow;
use thiserror::Error;

/// Who may touch a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldAccess {
    /// Present in the layout but not accessible to programs (e.g. the common fields of a
    /// tracepoint record).
    Hidden,
    /// Programs may load it.
    ReadOnly,
    /// Programs may load and store it.
    ReadWrite,
}

/// What a load of the field yields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// A number of the field's size.
    Scalar,
    /// The start of the packet (a packet pointer, whatever the field's size).
    PacketData,
    /// One past the end of the packet.
    PacketEnd,
    /// The start of the packet metadata.
    PacketMeta,
    /// A kernel object pointer that oxbpf does not model (e.g. `__sk_buff.sk`); loads are
    /// rejected with a message naming the field.
    Opaque,
}

/// Which access sizes a field accepts besides its full size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Narrow {
    /// Only full-size accesses at the field's offset.
    No,
    /// Loads of 1, 2, 4 (or 8) bytes aligned to their size anywhere inside the field.
    Loads,
    /// Loads and stores of any aligned power-of-two size inside the field.
    LoadsAndStores,
}

/// One field of a context structure.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct ContextField {
    pub name: Cow<'static, str>,
    /// Byte offset in the structure.
    pub offset: u32,
    /// Size in bytes.
    pub size: u32,
    pub access: FieldAccess,
    pub kind: FieldKind,
    pub narrow: Narrow,
}

impl ContextField {
    /// A read-only scalar field that accepts narrower loads.
    pub fn scalar(name: impl Into<Cow<'static, str>>, offset: u32, size: u32) -> ContextField {
        ContextField {
            name: name.into(),
            offset,
            size,
            access: FieldAccess::ReadOnly,
            kind: FieldKind::Scalar,
            narrow: Narrow::Loads,
        }
    }

    /// A field whose load yields a pointer of `kind` (full-size loads only).
    pub fn pointer(
        name: impl Into<Cow<'static, str>>,
        offset: u32,
        size: u32,
        kind: FieldKind,
    ) -> ContextField {
        ContextField {
            name: name.into(),
            offset,
            size,
            access: FieldAccess::ReadOnly,
            kind,
            narrow: Narrow::No,
        }
    }

    /// The same field, writable.
    pub fn writable(mut self) -> ContextField {
        self.access = FieldAccess::ReadWrite;
        self
    }

    /// The same field with another narrow-access rule.
    pub fn with_narrow(mut self, n: Narrow) -> ContextField {
        self.narrow = n;
        self
    }

    /// The same field, hidden from programs.
    pub fn hidden(mut self) -> ContextField {
        self.access = FieldAccess::Hidden;
        self
    }

    pub fn end(&self) -> u32 {
        self.offset.saturating_add(self.size)
    }
}

/// The layout of a program's context.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct ContextDescriptor {
    /// Type name (`xdp_md`, `__sk_buff`, `pt_regs`, a tracepoint's name ...).
    pub name: Cow<'static, str>,
    /// Size in bytes; no access may reach past it.
    pub size: u32,
    /// Fields, sorted by offset, not overlapping.
    pub fields: Vec<ContextField>,
    /// When true, aligned loads may span several scalar fields and padding (the kernel's
    /// rule for tracing contexts: pt_regs, tracepoint records); otherwise every access must
    /// fall inside one field.
    pub flat_loads: bool,
}

/// Why a descriptor is malformed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ContextError {
    #[error("context {ctx}: field {field} (offset {offset}, size {size}) ends past the structure size {total}")]
    FieldOutOfBounds {
        ctx: String,
        field: String,
        offset: u32,
        size: u32,
        total: u32,
    },
    #[error("context {ctx}: fields {a} and {b} overlap")]
    Overlap { ctx: String, a: String, b: String },
    #[error("context {ctx}: field {field} has size 0")]
    EmptyField { ctx: String, field: String },
    #[error("tracepoint format line {line}: {msg}")]
    Format { line: usize, msg: String },
}

/// Outcome of checking one access against a descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CtxAccess<'a> {
    /// Allowed; the load yields a value of `kind`.
    Ok {
        field: Option<&'a ContextField>,
        kind: FieldKind,
    },
    /// Refused, with the field involved (if any) and why.
    Denied {
        field: Option<&'a ContextField>,
        why: &'static str,
    },
}

impl ContextDescriptor {
    /// A descriptor from fields (sorted and checked).
    pub fn new(
        name: impl Into<Cow<'static, str>>,
        size: u32,
        mut fields: Vec<ContextField>,
    ) -> Result<ContextDescriptor, ContextError> {
        let name = name.into();
        fields.sort_by_key(|f| f.offset);
        for f in &fields {
            if f.size == 0 {
                return Err(ContextError::EmptyField {
                    ctx: name.to_string(),
                    field: f.name.to_string(),
                });
            }
            if f.offset.checked_add(f.size).is_none_or(|e| e > size) {
                return Err(ContextError::FieldOutOfBounds {
                    ctx: name.to_string(),
                    field: f.name.to_string(),
                    offset: f.offset,
                    size: f.size,
                    total: size,
                });
            }
        }
        for w in fields.windows(2) {
            if w[0].end() > w[1].offset {
                return Err(ContextError::Overlap {
                    ctx: name.to_string(),
                    a: w[0].name.to_string(),
                    b: w[1].name.to_string(),
                });
            }
        }
        Ok(ContextDescriptor {
            name,
            size,
            fields,
            flat_loads: false,
        })
    }

    /// The same descriptor with [`ContextDescriptor::flat_loads`] set.
    pub fn with_flat_loads(mut self) -> ContextDescriptor {
        self.flat_loads = true;
        self
    }

    /// The field containing byte `off`.
    pub fn field_at(&self, off: u32) -> Option<&ContextField> {
        let i = self.fields.partition_point(|f| f.end() <= off);
        self.fields.get(i).filter(|f| f.offset <= off)
    }

    /// A field by name.
    pub fn field(&self, name: &str) -> Option<&ContextField> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Checks a load (`write == false`) or store of `size` bytes at `off`.
    pub fn check(&self, off: i64, size: u32, write: bool) -> CtxAccess<'_> {
        if off < 0 || off + size as i64 > self.size as i64 {
            return CtxAccess::Denied {
                field: None,
                why: "outside the context structure",
            };
        }
        let off = off as u32;
        if !off.is_multiple_of(size) {
            return CtxAccess::Denied {
                field: self.field_at(off),
                why: "misaligned",
            };
        }
        let field = self.field_at(off);
        if let Some(f) = field {
            if f.access == FieldAccess::Hidden {
                return CtxAccess::Denied {
                    field,
                    why: "not accessible to programs",
                };
            }
            if write && f.access != FieldAccess::ReadWrite {
                return CtxAccess::Denied {
                    field,
                    why: "read-only",
                };
            }
            let exact = off == f.offset && size == f.size;
            let inside = off + size <= f.end();
            if exact {
                return CtxAccess::Ok {
                    field,
                    kind: f.kind,
                };
            }
            if f.kind != FieldKind::Scalar {
                return CtxAccess::Denied {
                    field,
                    why: "a pointer field must be accessed whole",
                };
            }
            if inside {
                let ok = match f.narrow {
                    Narrow::No => false,
                    Narrow::Loads => !write && size < f.size,
                    Narrow::LoadsAndStores => true,
                };
                if ok {
                    return CtxAccess::Ok {
                        field,
                        kind: FieldKind::Scalar,
                    };
                }
                return CtxAccess::Denied {
                    field,
                    why: if write {
                        "stores must write the whole field"
                    } else {
                        "narrower loads are not allowed for this field"
                    },
                };
            }
        }
        if self.flat_loads && !write {
            // Every byte must be readable plain data.
            let mut o = off;
            while o < off + size {
                match self.field_at(o) {
                    Some(f) if f.access == FieldAccess::Hidden => {
                        return CtxAccess::Denied {
                            field: Some(f),
                            why: "not accessible to programs",
                        }
                    }
                    Some(f) if f.kind != FieldKind::Scalar => {
                        return CtxAccess::Denied {
                            field: Some(f),
                            why: "a pointer field must be accessed whole",
                        }
                    }
                    Some(f) => o = f.end(),
                    None => o += 1,
                }
            }
            return CtxAccess::Ok {
                field,
                kind: FieldKind::Scalar,
            };
        }
        CtxAccess::Denied {
            field,
            why: if field.is_some() {
                "the access crosses the end of the field"
            } else {
                "no field at this offset"
            },
        }
    }

    /// `struct xdp_md`: packet pointers and interface/queue numbers, all 4-byte loads.
    pub fn xdp_md() -> ContextDescriptor {
        let f = |n: &'static str, o| ContextField::scalar(n, o, 4).with_narrow(Narrow::No);
        fixed(
            "xdp_md",
            24,
            vec![
                ContextField::pointer("data", 0, 4, FieldKind::PacketData),
                ContextField::pointer("data_end", 4, 4, FieldKind::PacketEnd),
                ContextField::pointer("data_meta", 8, 4, FieldKind::PacketMeta),
                f("ingress_ifindex", 12),
                f("rx_queue_index", 16),
                // Linux lets only programs attached to devmap entries read it.
                f("egress_ifindex", 20).hidden(),
            ],
        )
    }

    /// `struct __sk_buff` as a tc (sched_cls / sched_act) program sees it.
    pub fn sk_buff_tc() -> ContextDescriptor {
        sk_buff(SkbFlavor::Tc)
    }

    /// `struct __sk_buff` as a socket filter sees it (no direct packet access; only `cb`
    /// is writable).
    pub fn sk_buff_socket_filter() -> ContextDescriptor {
        sk_buff(SkbFlavor::SocketFilter)
    }

    /// `struct __sk_buff` as a cgroup skb program sees it.
    pub fn sk_buff_cgroup() -> ContextDescriptor {
        sk_buff(SkbFlavor::Cgroup)
    }

    /// `struct pt_regs` of x86-64 (kprobes and uprobes): read-only, any aligned load.
    pub fn pt_regs() -> ContextDescriptor {
        const NAMES: [&str; 21] = [
            "r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx",
            "si", "di", "orig_ax", "ip", "cs", "flags", "sp", "ss",
        ];
        let fields = NAMES
            .iter()
            .enumerate()
            .map(|(i, n)| ContextField::scalar(*n, i as u32 * 8, 8))
            .collect();
        fixed("pt_regs", 168, fields).with_flat_loads()
    }

    /// `struct bpf_perf_event_data`: the registers, then `sample_period` and `addr`.
    pub fn perf_event_data() -> ContextDescriptor {
        let mut fields = ContextDescriptor::pt_regs().fields;
        for f in &mut fields {
            f.name = format!("regs.{}", f.name).into();
        }
        fields.push(ContextField::scalar("sample_period", 168, 8));
        fields.push(ContextField::scalar("addr", 176, 8));
        fixed("bpf_perf_event_data", 184, fields).with_flat_loads()
    }

    /// `struct bpf_raw_tracepoint_args`: `u64 args[nargs]`.
    pub fn raw_tracepoint(nargs: u32) -> ContextDescriptor {
        let fields = (0..nargs)
            .map(|i| ContextField::scalar(format!("args[{i}]"), i * 8, 8))
            .collect();
        fixed("bpf_raw_tracepoint_args", nargs * 8, fields).with_flat_loads()
    }

    /// The common header of every tracepoint record (hidden from programs, as in Linux).
    fn trace_entry() -> Vec<ContextField> {
        vec![
            ContextField::scalar("common_type", 0, 2).hidden(),
            ContextField::scalar("common_flags", 2, 1).hidden(),
            ContextField::scalar("common_preempt_count", 3, 1).hidden(),
            ContextField::scalar("common_pid", 4, 4).hidden(),
        ]
    }

    /// `struct trace_event_raw_sys_enter` (syscalls/sys_enter_*): `__syscall_nr` at 8 and
    /// `args[6]` at 16.
    pub fn sys_enter() -> ContextDescriptor {
        let mut fields = ContextDescriptor::trace_entry();
        fields.push(ContextField::scalar("__syscall_nr", 8, 4));
        for i in 0..6 {
            fields.push(ContextField::scalar(format!("args[{i}]"), 16 + i * 8, 8));
        }
        fixed("trace_event_raw_sys_enter", 64, fields).with_flat_loads()
    }

    /// `struct trace_event_raw_sys_exit` (syscalls/sys_exit_*): `__syscall_nr` at 8 and
    /// `ret` at 16.
    pub fn sys_exit() -> ContextDescriptor {
        let mut fields = ContextDescriptor::trace_entry();
        fields.push(ContextField::scalar("__syscall_nr", 8, 4));
        fields.push(ContextField::scalar("ret", 16, 8));
        fixed("trace_event_raw_sys_exit", 24, fields).with_flat_loads()
    }

    /// A tracepoint record of unknown layout: the hidden common header, then up to the
    /// kernel's limit (2048 bytes) of plain data.
    pub fn tracepoint_unknown() -> ContextDescriptor {
        fixed("trace_event_raw", 2048, ContextDescriptor::trace_entry()).with_flat_loads()
    }

    /// Parses a tracefs `format` file (`/sys/kernel/tracing/events/<cat>/<name>/format`):
    /// every `field:<decl>; offset:N; size:N; signed:N;` line becomes a read-only field
    /// (the `common_` ones hidden, as the kernel hides them).
    pub fn from_tracepoint_format(text: &str) -> Result<ContextDescriptor, ContextError> {
        let mut name: Cow<'static, str> = "tracepoint".into();
        let mut fields = Vec::new();
        let mut end = 8u32;
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            let t = line.trim();
            if let Some(n) = t.strip_prefix("name:") {
                name = n.trim().to_string().into();
                continue;
            }
            let Some(rest) = t.strip_prefix("field:") else {
                continue;
            };
            let mut decl = None;
            let mut offset = None;
            let mut size = None;
            for part in rest.split(';') {
                let part = part.trim();
                if decl.is_none() {
                    decl = Some(part.to_string());
                    continue;
                }
                if let Some(v) = part.strip_prefix("offset:") {
                    offset = Some(parse_num(v, line_no)?);
                } else if let Some(v) = part.strip_prefix("size:") {
                    size = Some(parse_num(v, line_no)?);
                }
            }
            let decl = decl.unwrap_or_default();
            let (Some(offset), Some(size)) = (offset, size) else {
                return Err(ContextError::Format {
                    line: line_no,
                    msg: "field line without offset or size".into(),
                });
            };
            let fname = field_name(&decl);
            if size == 0 {
                continue;
            }
            let mut f = ContextField::scalar(fname.clone(), offset, size);
            if fname.starts_with("common_") {
                f = f.hidden();
            }
            end = end.max(offset + size);
            fields.push(f);
        }
        if fields.is_empty() {
            return Err(ContextError::Format {
                line: 0,
                msg: "no `field:` lines".into(),
            });
        }
        // Records are 8-byte aligned.
        let size = end.div_ceil(8) * 8;
        Ok(ContextDescriptor::new(name, size, fields)?.with_flat_loads())
    }
}

fn parse_num(v: &str, line: usize) -> Result<u32, ContextError> {
    v.trim().parse().map_err(|_| ContextError::Format {
        line,
        msg: format!("`{}` is not a number", v.trim()),
    })
}

/// The identifier in a C declaration such as `const char * filename` or `u64 args[6]`.
fn field_name(decl: &str) -> String {
    let d = decl.split('[').next().unwrap_or(decl).trim();
    d.rsplit(|c: char| c.is_whitespace() || c == '*')
        .find(|s| !s.is_empty())
        .unwrap_or(d)
        .to_string()
}

/// Built-in descriptors are correct by construction; this keeps them out of `Result`.
fn fixed(name: &'static str, size: u32, fields: Vec<ContextField>) -> ContextDescriptor {
    match ContextDescriptor::new(name, size, fields) {
        Ok(d) => d,
        Err(e) => panic!("built-in context descriptor {name} is malformed: {e}"),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SkbFlavor {
    SocketFilter,
    Tc,
    Cgroup,
}

fn sk_buff(flavor: SkbFlavor) -> ContextDescriptor {
    use SkbFlavor::*;
    let s = |n: &'static str, o| ContextField::scalar(n, o, 4);
    let tc = flavor == Tc;
    let w = |f: ContextField, yes: bool| if yes { f.writable() } else { f };
    let mut fields = vec![
        s("len", 0),
        s("pkt_type", 4),
        w(s("mark", 8), tc || flavor == Cgroup),
        w(s("queue_mapping", 12), tc),
        s("protocol", 16),
        s("vlan_present", 20),
        s("vlan_tci", 24),
        s("vlan_proto", 28),
        w(s("priority", 32), tc || flavor == Cgroup),
        s("ingress_ifindex", 36),
        s("ifindex", 40),
        w(s("tc_index", 44), tc),
        ContextField::scalar("cb", 48, 20)
            .writable()
            .with_narrow(Narrow::LoadsAndStores),
        s("hash", 68),
    ];
    if flavor != SocketFilter {
        fields.push(w(s("tc_classid", 72), tc));
        fields.push(ContextField::pointer("data", 76, 4, FieldKind::PacketData));
        fields.push(ContextField::pointer(
            "data_end",
            80,
            4,
            FieldKind::PacketEnd,
        ));
    }
    fields.push(s("napi_id", 84));
    if flavor == Cgroup {
        fields.push(s("family", 88));
        fields.push(s("remote_ip4", 92).with_narrow(Narrow::No));
        fields.push(s("local_ip4", 96).with_narrow(Narrow::No));
        for i in 0..4u32 {
            fields.push(
                ContextField::scalar(format!("remote_ip6[{i}]"), 100 + 4 * i, 4)
                    .with_narrow(Narrow::No),
            );
        }
        for i in 0..4u32 {
            fields.push(
                ContextField::scalar(format!("local_ip6[{i}]"), 116 + 4 * i, 4)
                    .with_narrow(Narrow::No),
            );
        }
        fields.push(s("remote_port", 132));
        fields.push(s("local_port", 136));
    }
    if flavor == Tc {
        fields.push(ContextField::pointer(
            "data_meta",
            140,
            4,
            FieldKind::PacketMeta,
        ));
    }
    fields.push(ContextField::pointer("flow_keys", 144, 8, FieldKind::Opaque).hidden());
    if flavor != SocketFilter {
        fields.push(w(
            ContextField::scalar("tstamp", 152, 8).with_narrow(Narrow::No),
            tc,
        ));
        fields.push(s("wire_len", 160));
    }
    fields.push(s("gso_segs", 164));
    fields.push(ContextField::pointer("sk", 168, 8, FieldKind::Opaque));
    fields.push(s("gso_size", 176));
    fields.push(ContextField::scalar("tstamp_type", 180, 1));
    if flavor != SocketFilter {
        fields.push(ContextField::scalar("hwtstamp", 184, 8).with_narrow(Narrow::No));
    }
    fixed("__sk_buff", 192, fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(a: CtxAccess<'_>) -> Option<FieldKind> {
        match a {
            CtxAccess::Ok { kind, .. } => Some(kind),
            CtxAccess::Denied { .. } => None,
        }
    }

    #[test]
    fn xdp_fields() {
        let d = ContextDescriptor::xdp_md();
        assert_eq!(ok(d.check(0, 4, false)), Some(FieldKind::PacketData));
        assert_eq!(ok(d.check(4, 4, false)), Some(FieldKind::PacketEnd));
        assert_eq!(ok(d.check(12, 4, false)), Some(FieldKind::Scalar));
        assert_eq!(ok(d.check(12, 2, false)), None);
        assert_eq!(ok(d.check(0, 8, false)), None);
        assert_eq!(ok(d.check(0, 4, true)), None);
        assert_eq!(ok(d.check(24, 4, false)), None);
    }

    #[test]
    fn skb_fields() {
        let tc = ContextDescriptor::sk_buff_tc();
        assert_eq!(ok(tc.check(8, 4, true)), Some(FieldKind::Scalar));
        assert_eq!(ok(tc.check(8, 1, false)), Some(FieldKind::Scalar));
        assert_eq!(ok(tc.check(0, 4, true)), None);
        assert_eq!(ok(tc.check(48, 8, true)), Some(FieldKind::Scalar));
        assert_eq!(ok(tc.check(76, 4, false)), Some(FieldKind::PacketData));
        assert_eq!(ok(tc.check(88, 4, false)), None);
        let sf = ContextDescriptor::sk_buff_socket_filter();
        assert_eq!(ok(sf.check(76, 4, false)), None);
        assert_eq!(ok(sf.check(8, 4, true)), None);
        assert_eq!(ok(sf.check(52, 4, true)), Some(FieldKind::Scalar));
    }

    #[test]
    fn tracing_fields() {
        let p = ContextDescriptor::pt_regs();
        assert_eq!(ok(p.check(112, 8, false)), Some(FieldKind::Scalar));
        assert_eq!(ok(p.check(112, 4, false)), Some(FieldKind::Scalar));
        assert_eq!(ok(p.check(112, 8, true)), None);
        assert_eq!(ok(p.check(164, 8, false)), None);
        let e = ContextDescriptor::sys_enter();
        assert_eq!(ok(e.check(0, 4, false)), None);
        assert_eq!(ok(e.check(8, 8, false)), Some(FieldKind::Scalar));
        assert_eq!(ok(e.check(16, 8, false)), Some(FieldKind::Scalar));
        assert_eq!(ok(e.check(64, 8, false)), None);
        assert_eq!(e.field("args[5]").map(|f| f.offset), Some(56));
        let x = ContextDescriptor::sys_exit();
        assert_eq!(x.field("ret").map(|f| (f.offset, f.size)), Some((16, 8)));
    }

    #[test]
    fn tracepoint_format_parses() {
        let text = "name: sched_switch\nID: 316\nformat:\n\
            \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
            \tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\
            \tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\
            \tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\
            \tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;\n\
            \tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;\n\
            \tfield:const char * filename;\toffset:32;\tsize:8;\tsigned:0;\n\n\
            print fmt: \"...\"\n";
        let d = ContextDescriptor::from_tracepoint_format(text).expect("parses");
        assert_eq!(d.name, "sched_switch");
        assert_eq!(d.size, 40);
        assert_eq!(d.field("prev_pid").map(|f| f.offset), Some(24));
        assert_eq!(d.field("filename").map(|f| f.size), Some(8));
        assert_eq!(d.field("prev_comm").map(|f| f.size), Some(16));
        assert_eq!(ok(d.check(4, 4, false)), None);
        assert_eq!(ok(d.check(16, 8, false)), Some(FieldKind::Scalar));
        assert!(ContextDescriptor::from_tracepoint_format("nothing").is_err());
        let bad = "\tfield:int x;\toffset:abc;\tsize:4;\n";
        assert!(matches!(
            ContextDescriptor::from_tracepoint_format(bad),
            Err(ContextError::Format { line: 1, .. })
        ));
    }

    #[test]
    fn descriptors_are_checked() {
        let e = ContextDescriptor::new(
            "x",
            8,
            vec![
                ContextField::scalar("a", 0, 8),
                ContextField::scalar("b", 4, 4),
            ],
        );
        assert!(matches!(e, Err(ContextError::Overlap { .. })));
        let e = ContextDescriptor::new("x", 8, vec![ContextField::scalar("a", 4, 8)]);
        assert!(matches!(e, Err(ContextError::FieldOutOfBounds { .. })));
        // Every built-in descriptor is well formed (they panic otherwise).
        for d in [
            ContextDescriptor::xdp_md(),
            ContextDescriptor::sk_buff_tc(),
            ContextDescriptor::sk_buff_socket_filter(),
            ContextDescriptor::sk_buff_cgroup(),
            ContextDescriptor::pt_regs(),
            ContextDescriptor::perf_event_data(),
            ContextDescriptor::raw_tracepoint(12),
            ContextDescriptor::sys_enter(),
            ContextDescriptor::sys_exit(),
            ContextDescriptor::tracepoint_unknown(),
        ] {
            assert!(d.size > 0);
            let json = serde_json::to_string(&d).expect("serializes");
            assert!(json.contains(&*d.name));
        }
    }
}
