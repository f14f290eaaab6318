//! The golden corpus: small programs with their expected verdicts.
//!
//! File format (`tests/corpus/*.test`):
//!
//! ```text
//! # free text describing the case
//! type: xdp                         program type (see `prog_type`)
//! map: NAME TYPE key=K value=V entries=N [flags=F] [frozen=HEX] [inner=INDEX]   (by index)
//! ctx: sys_enter                    optional context override (sys_enter, sys_exit)
//! expect: accept                    or `reject <kind>` (the ErrorKind, snake_case)
//! message: ...                      the error message (rejects)
//! kernel: accept|reject|skip  # why  the Linux verdict when it differs from ours
//! limit: 100000                     optional instruction budget (Linux's is 1000000)
//! btf: yes                          the program is taken to carry BTF function info
//! privileged: no                    pointers may not leak (the loader is unprivileged)
//! ---
//! assembly (oxbpf_isa::assemble syntax)
//! ```
//!
//! `OXBPF_BLESS=1` rewrites `expect:` and `message:` from the actual results.
#![allow(dead_code)]

pub mod gen;

use oxbpf_verifier::{ContextDescriptor, MapSpec, MapType, ProgramType, VerifierConfig};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct Case {
    pub path: PathBuf,
    pub name: String,
    pub header: Vec<String>,
    pub prog_type: String,
    pub ctx: Option<String>,
    pub maps: Vec<MapSpec>,
    pub expect: String,
    pub message: Option<String>,
    /// Declared kernel verdict ("accept"/"reject"/"skip") when it differs from ours.
    pub kernel: Option<String>,
    /// `limit:` instruction budget override.
    pub limit: Option<u64>,
    /// `btf: yes`: the program is taken to carry BTF function info.
    pub btf: bool,
    /// `privileged: no`: pointers may not leak (an unprivileged loader).
    pub unprivileged: bool,
    pub asm: String,
}

pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

pub fn load_all() -> Vec<Case> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("corpus directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    files.iter().map(|p| parse(p)).collect()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex byte"))
        .collect()
}

pub fn map_type(name: &str) -> MapType {
    match name {
        "hash" => MapType::Hash,
        "array" => MapType::Array,
        "prog_array" => MapType::ProgArray,
        "perf_event_array" => MapType::PerfEventArray,
        "percpu_hash" => MapType::PercpuHash,
        "percpu_array" => MapType::PercpuArray,
        "stack_trace" => MapType::StackTrace,
        "lru_hash" => MapType::LruHash,
        "queue" => MapType::Queue,
        "stack" => MapType::Stack,
        "ringbuf" => MapType::Ringbuf,
        "hash_of_maps" => MapType::HashOfMaps,
        "devmap" => MapType::Devmap,
        "array_of_maps" => MapType::ArrayOfMaps,
        other => panic!("unknown map type {other}"),
    }
}

pub fn parse(path: &Path) -> Case {
    let text = std::fs::read_to_string(path).expect("read corpus file");
    let (head, asm) = text
        .split_once("\n---\n")
        .unwrap_or_else(|| panic!("{}: no `---` line", path.display()));
    let mut c = Case {
        path: path.to_path_buf(),
        name: path.file_stem().unwrap().to_string_lossy().into_owned(),
        header: head.lines().map(String::from).collect(),
        prog_type: String::new(),
        ctx: None,
        maps: Vec::new(),
        expect: String::new(),
        message: None,
        kernel: None,
        limit: None,
        btf: false,
        unprivileged: false,
        asm: asm.to_string(),
    };
    for line in head.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        match k.trim() {
            "type" => c.prog_type = v.to_string(),
            "ctx" => c.ctx = Some(v.to_string()),
            "expect" => c.expect = v.to_string(),
            "message" => c.message = Some(v.to_string()),
            "limit" => c.limit = Some(v.parse().expect("limit")),
            "btf" => c.btf = v == "yes",
            "privileged" => c.unprivileged = v == "no",
            "kernel" => c.kernel = Some(v.split('#').next().unwrap_or("").trim().to_string()),
            "map" => {
                let mut it = v.split_whitespace();
                let name = it.next().expect("map name");
                let ty = map_type(it.next().expect("map type"));
                let mut m = MapSpec::new(name, ty, 0, 0, 0);
                for kv in it {
                    let (k, v) = kv.split_once('=').expect("key=value");
                    let num = || -> u32 {
                        if let Some(h) = v.strip_prefix("0x") {
                            u32::from_str_radix(h, 16).expect("hex")
                        } else {
                            v.parse().expect("number")
                        }
                    };
                    match k {
                        "key" => m.key_size = num(),
                        "value" => m.value_size = num(),
                        "entries" => m.max_entries = num(),
                        "flags" => m.flags = num(),
                        "frozen" => m.frozen = Some(hex(v)),
                        "inner" => m.inner = Some(num()),
                        other => panic!("{}: unknown map attribute {other}", path.display()),
                    }
                }
                c.maps.push(m);
            }
            _ => {}
        }
    }
    assert!(!c.prog_type.is_empty(), "{}: no type", path.display());
    assert!(!c.expect.is_empty(), "{}: no expect", path.display());
    c
}

pub fn prog_type(name: &str) -> ProgramType {
    match name {
        "socket_filter" => ProgramType::SocketFilter,
        "kprobe" => ProgramType::Kprobe,
        "sched_cls" => ProgramType::SchedCls,
        "sched_act" => ProgramType::SchedAct,
        "tracepoint" => ProgramType::Tracepoint,
        "xdp" => ProgramType::Xdp,
        "perf_event" => ProgramType::PerfEvent,
        "cgroup_skb" => ProgramType::CgroupSkb,
        "raw_tracepoint" => ProgramType::RawTracepoint,
        other => panic!("unknown program type {other}"),
    }
}

impl Case {
    pub fn config(&self) -> VerifierConfig {
        let mut conf = VerifierConfig::new(prog_type(&self.prog_type)).with_maps(self.maps.clone());
        conf.btf_func_info = self.btf;
        conf.allow_ptr_leaks = !self.unprivileged;
        if let Some(l) = self.limit {
            conf.max_insns = l;
        }
        match self.ctx.as_deref() {
            Some("sys_enter") => conf.context = Some(ContextDescriptor::sys_enter()),
            Some("sys_exit") => conf.context = Some(ContextDescriptor::sys_exit()),
            Some(other) => panic!("{}: unknown ctx {other}", self.path.display()),
            None => {}
        }
        conf
    }

    pub fn program(&self) -> oxbpf_isa::Program {
        oxbpf_isa::assemble(&self.asm)
            .unwrap_or_else(|e| panic!("{}: assembly: {e}", self.path.display()))
    }

    pub fn expects_accept(&self) -> bool {
        self.expect == "accept"
    }

    /// The verdict Linux is expected to give.
    pub fn kernel_expect(&self) -> &str {
        match self.kernel.as_deref() {
            Some(k) => k,
            None if self.expects_accept() => "accept",
            None => "reject",
        }
    }

    /// Rewrites the header with a new verdict and message.
    pub fn bless(&self, expect: &str, message: Option<&str>) {
        let mut out = Vec::new();
        let mut wrote = false;
        for l in &self.header {
            if l.starts_with("expect:") || l.starts_with("message:") {
                if !wrote {
                    out.push(format!("expect: {expect}"));
                    if let Some(m) = message {
                        out.push(format!("message: {m}"));
                    }
                    wrote = true;
                }
                continue;
            }
            out.push(l.clone());
        }
        let text = format!("{}\n---\n{}", out.join("\n"), self.asm);
        std::fs::write(&self.path, text).expect("write corpus file");
    }
}
