//! `oxbpf exec prog.o`: run a program of an ELF object in the userspace runtime, as
//! `BPF_PROG_TEST_RUN` runs it in the kernel, and print `r0`, the trace output and,
//! with `--maps`, the maps afterwards. `--state DIR` keeps the maps between invocations
//! (read before the run, written after), which `oxbpf map dump` reads. Programs are
//! verified when they are loaded unless `--unverified` is given.

use super::exec::{budget_for, Budget};
use super::{CmdResult, Failure};
use anyhow::anyhow;
use oxbpf::EngineKind;
use oxbpf_runtime::dump;
use oxbpf_runtime::loader::{LoadError, LoadedObject, ObjectSpec, RunInput, Runtime};
use oxbpf_runtime::maps::{Map, MapType};
use oxbpf_runtime::progtype::ProgType;
use std::path::{Path, PathBuf};

/// What `exec` needs to run an object.
pub struct ObjectRun<'a> {
    pub file: &'a Path,
    /// The object (or one raw program of a given type).
    pub spec: ObjectSpec,
    pub program: Option<&'a str>,
    pub ctx: Option<Vec<u8>>,
    pub packet: Option<Vec<u8>>,
    pub engine: EngineKind,
    pub repeat: u64,
    pub budget: Option<Budget>,
    /// Verify the programs at load (and run them without run-time checks).
    pub verify: bool,
    /// The verifier's full report on a rejection.
    pub verbose: bool,
    pub maps: bool,
    pub json: bool,
    pub state: Option<&'a Path>,
}

pub fn run(r: ObjectRun<'_>) -> CmdResult {
    let file = r.file.display().to_string();
    let spec = &r.spec;
    let names: Vec<&str> = spec.programs.iter().map(|p| p.name.as_str()).collect();
    let name = match (r.program, names.as_slice()) {
        (Some(n), _) => {
            if !names.contains(&n) {
                return Err(Failure::input(anyhow!(
                    "{file}: no program `{n}` (programs: {})",
                    names.join(", ")
                )));
            }
            n.to_string()
        }
        (None, [one]) => one.to_string(),
        (None, []) => return Err(Failure::input(anyhow!("{file}: the object has no program"))),
        (None, many) => {
            return Err(Failure::input(anyhow!(
                "{file}: the object has {} programs; choose one with --program ({})",
                many.len(),
                many.join(", ")
            )))
        }
    };
    let runtime = Runtime::new()
        .with_engine(r.engine)
        .with_verify(r.verify)
        .with_budget(budget_for(r.budget, r.verify));
    let obj = runtime.load(spec).map_err(|e| match e {
        LoadError::Verifier { program, error } => {
            let (text, note) = if r.verbose {
                (format!("\n{}", error.report().trim_end()), "")
            } else {
                (error.summary(), "--verbose: the full report; ")
            };
            Failure::program(anyhow!(
                "{file}: program `{program}` rejected by the verifier: {text}\n\
                 ({note}--unverified: run it in checked mode anyway)"
            ))
        }
        e => Failure::program(anyhow!("{file}: {e}")),
    })?;
    if let Some(dir) = r.state {
        restore_maps(&obj, dir).map_err(Failure::input)?;
    }
    let Some(prog) = obj.program(&name) else {
        let why = obj
            .skipped()
            .find(|(n, _)| *n == name)
            .map(|(_, w)| w.to_string())
            .unwrap_or_default();
        return Err(Failure::program(anyhow!("{file}: program `{name}`: {why}")));
    };
    let repeat = u32::try_from(r.repeat)
        .map_err(|_| Failure::input(anyhow!("--repeat must be at most {}", u32::MAX)))?;
    let packet_type = matches!(prog.prog_type(), ProgType::Xdp | ProgType::SocketFilter);
    if packet_type && r.packet.is_none() && (prog.verified().is_some() || r.ctx.is_none()) {
        return Err(Failure::input(anyhow!(
            "{file}: program `{name}` is {} program: give it a packet with --packet-hex HEX or \
             --packet-file FILE (an Ethernet frame)",
            if prog.prog_type() == ProgType::Xdp {
                "an XDP"
            } else {
                "a socket filter"
            }
        )));
    }
    let (r0, runs, duration, data_out) = match (&r.packet, packet_type && r.ctx.is_none()) {
        (Some(pkt), true) => {
            let out = prog
                .run_packet(pkt, repeat)
                .map_err(|e| Failure::program(anyhow!("{file}: {e}")))?;
            (out.r0, out.runs, out.duration, Some(out.data))
        }
        _ => {
            let mut ctx = r.ctx.clone();
            let mut packet = r.packet.clone();
            let out = prog
                .run(RunInput {
                    ctx: ctx.as_deref_mut(),
                    packet: packet.as_deref_mut(),
                    repeat,
                    ..Default::default()
                })
                .map_err(|e| Failure::program(anyhow!("{file}: {e}")))?;
            (out.r0, out.runs, out.duration, None)
        }
    };
    let trace = obj.trace().read();
    if let Some(dir) = r.state {
        save_maps(&obj, dir).map_err(Failure::input)?;
    }
    let ns_per_run = duration.as_secs_f64() * 1e9;
    if r.json {
        let maps: serde_json::Map<String, serde_json::Value> = if r.maps {
            obj.maps()
                .maps()
                .iter()
                .map(|m| (m.name().to_string(), map_json(m)))
                .collect()
        } else {
            serde_json::Map::new()
        };
        let v = serde_json::json!({
            "file": file,
            "program": name,
            "engine": oxbpf::engine_name(r.engine),
            "verified": prog.verified().is_some(),
            "insns_verified": prog.verified().map(|v| v.verified.stats.insns_processed),
            "r0": r0,
            "r0_hex": format!("{r0:#x}"),
            "runs": runs,
            "ns_per_run": ns_per_run,
            "trace": trace.iter().map(|t| t.line()).collect::<Vec<_>>(),
            "trace_dropped": obj.trace().dropped(),
            "data_out": data_out.as_ref().map(|d| dump::hex(d)),
            "maps": maps,
        });
        println!("{v}");
        return Ok(());
    }
    for t in &trace {
        println!("{}", t.line());
    }
    if obj.trace().dropped() > 0 {
        println!("({} trace lines dropped)", obj.trace().dropped());
    }
    println!("r0 = {r0} ({r0:#x})");
    if let Some(d) = &data_out {
        println!("packet out: {}", dump::hex(d));
    }
    if runs > 1 {
        println!(
            "{runs} runs ({}{}): {ns_per_run:.1} ns/run",
            oxbpf::engine_name(r.engine),
            if prog.verified().is_some() {
                ", verified"
            } else {
                ""
            }
        );
    }
    if r.maps {
        for m in obj.maps().maps() {
            println!("{}", dump::describe(&m));
            match dump::dump(&m) {
                Ok(text) => print!("{text}"),
                Err(e) => println!("  ({e})"),
            }
        }
    }
    Ok(())
}

fn map_json(m: &Map) -> serde_json::Value {
    if !dump::lists_entries(m.map_type()) {
        return serde_json::json!({ "type": m.map_type().name(), "dump": dump::dump(m).unwrap_or_default() });
    }
    let entries: Vec<serde_json::Value> = m
        .entries()
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| serde_json::json!({ "key": dump::hex(&k), "value": dump::hex(&v) }))
        .collect();
    serde_json::json!({ "type": m.map_type().name(), "entries": entries })
}

/// The file of map `name` in a state directory.
fn state_file(dir: &Path, name: &str) -> PathBuf {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("{safe}.json"))
}

/// Saves the maps whose contents are key/value entries (one JSON file per map).
fn save_maps(obj: &LoadedObject, dir: &Path) -> Result<(), anyhow::Error> {
    std::fs::create_dir_all(dir).map_err(|e| anyhow!("{}: {e}", dir.display()))?;
    for m in obj.maps().maps() {
        if !dump::lists_entries(m.map_type()) {
            continue;
        }
        let s = m.spec();
        let v = serde_json::json!({
            "name": s.name,
            "type": s.map_type.as_u32(),
            "key_size": s.key_size,
            "value_size": s.value_size,
            "max_entries": s.max_entries,
            "flags": s.flags,
            "entries": m.entries().map_err(|e| anyhow!("{e}"))?.into_iter()
                .map(|(k, v)| serde_json::json!([dump::hex(&k), dump::hex(&v)]))
                .collect::<Vec<_>>(),
        });
        let path = state_file(dir, &s.name);
        std::fs::write(&path, v.to_string()).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// A saved map: its geometry and entries.
struct Saved {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    entries: Vec<(Vec<u8>, Vec<u8>)>,
}

fn read_saved(path: &Path) -> Result<Saved, anyhow::Error> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let num = |k: &str| {
        v[k].as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| anyhow!("{}: `{k}` is missing or not a number", path.display()))
    };
    let mut entries = Vec::new();
    for (i, e) in v["entries"].as_array().into_iter().flatten().enumerate() {
        let field = |j: usize| -> Result<Vec<u8>, anyhow::Error> {
            let s = e[j].as_str().ok_or_else(|| {
                anyhow!("{}: entry {i} is not a [key, value] pair", path.display())
            })?;
            oxbpf::hex::decode(s).map_err(|err| anyhow!("{}: entry {i}: {err}", path.display()))
        };
        entries.push((field(0)?, field(1)?));
    }
    Ok(Saved {
        map_type: num("type")?,
        key_size: num("key_size")?,
        value_size: num("value_size")?,
        entries,
    })
}

/// Restores saved contents into the object's maps of the same name and geometry.
fn restore_maps(obj: &LoadedObject, dir: &Path) -> Result<(), anyhow::Error> {
    for m in obj.maps().maps() {
        let path = state_file(dir, m.name());
        if !path.exists() || !dump::lists_entries(m.map_type()) || m.is_frozen() {
            continue;
        }
        let saved = read_saved(&path)?;
        let s = m.spec();
        if (saved.map_type, saved.key_size, saved.value_size)
            != (s.map_type.as_u32(), s.key_size, s.value_size)
        {
            log::warn!(
                "{}: saved map does not match `{}` of this object; not restored",
                path.display(),
                s.name
            );
            continue;
        }
        for (k, v) in &saved.entries {
            m.update(k, v, 0)
                .map_err(|e| anyhow!("{}: restoring `{}`: {e}", path.display(), s.name))?;
        }
    }
    Ok(())
}

/// Names of the maps saved in `dir`, sorted.
pub fn saved_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    let p = e.path();
                    if p.extension()? != "json" {
                        return None;
                    }
                    Some(p.file_stem()?.to_string_lossy().into_owned())
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// `oxbpf map dump NAME --state DIR`: prints a map saved by `exec --state DIR`.
pub fn dump_saved(dir: &Path, name: &str) -> CmdResult {
    if !dir.is_dir() {
        return Err(Failure::input(anyhow!(
            "{}: no such state directory (made by `oxbpf exec prog.o --state DIR`; give it with --state DIR)",
            dir.display()
        )));
    }
    let path = state_file(dir, name);
    if !path.exists() {
        let known = saved_names(dir);
        return Err(Failure::input(anyhow!(
            "no saved map `{name}` in {} (saved maps: {})",
            dir.display(),
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        )));
    }
    let saved = read_saved(&path).map_err(Failure::input)?;
    let t = MapType::from_u32(saved.map_type)
        .map(|t| t.name().trim_start_matches("BPF_MAP_TYPE_").to_lowercase())
        .unwrap_or_else(|| format!("type {}", saved.map_type));
    println!(
        "{name}: {t} key {}B value {}B",
        saved.key_size, saved.value_size
    );
    for (k, v) in &saved.entries {
        println!("key: {}  value: {}", dump::hex(k), dump::hex(v));
    }
    println!("Found {} elements", saved.entries.len());
    Ok(())
}
