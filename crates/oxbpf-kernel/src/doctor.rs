//! `oxbpf doctor`: what this machine supports and lacks for eBPF, each with the reason and
//! a remedy.
//!
//! The report is every kernel probe of [`crate::probe::all`] (each tries the real thing)
//! plus the C compiler that builds BPF objects. [`Report::render`] prints it as a table.

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::{Command, Stdio};

use crate::probe::{self, Feature, Status};

/// The machine's report.
#[derive(Clone, Debug)]
pub struct Report {
    /// Every check, in print order.
    pub features: Vec<Feature>,
}

/// Runs every check.
pub fn report() -> Report {
    let mut features = probe::all();
    features.push(clang());
    Report { features }
}

/// The clang to use: `$CLANG`, else `clang` on the `PATH`.
pub fn clang_command() -> String {
    std::env::var("CLANG")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "clang".to_string())
}

/// Whether clang is installed and can compile C to BPF (it compiles a one-line program
/// with `-target bpf`).
pub fn clang() -> Feature {
    let cmd = clang_command();
    let version = match Command::new(&cmd).arg("--version").output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string(),
        Ok(o) => {
            return feature(
                Status::Missing,
                format!(
                    "`{cmd} --version` failed ({}): {}",
                    o.status,
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
                Some("install clang (apt-get install clang), or set CLANG to a working clang"),
            )
        }
        Err(e) => {
            return feature(
                Status::Missing,
                format!("`{cmd}` cannot be run: {e}"),
                Some("install clang (apt-get install clang), or set CLANG=/path/to/clang"),
            )
        }
    };
    let compiled = Command::new(&cmd)
        .args([
            "-target",
            "bpf",
            "-O2",
            "-g",
            "-c",
            "-x",
            "c",
            "-",
            "-o",
            "/dev/null",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            if let Some(mut stdin) = child.stdin.take() {
                stdin.write_all(b"int f(void *ctx) { return 0; }\n")?;
            }
            child.wait_with_output()
        });
    match compiled {
        Ok(o) if o.status.success() => feature(
            Status::Supported,
            format!("{version}; compiles C to BPF (-target bpf)"),
            None,
        ),
        Ok(o) => feature(
            Status::Missing,
            format!(
                "{version}, but it cannot compile for -target bpf: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            Some("install a clang built with the BPF backend (the distribution's clang has it)"),
        ),
        Err(e) => feature(
            Status::Missing,
            format!("{version}, but running it failed: {e}"),
            None,
        ),
    }
}

fn feature(status: Status, reason: String, remedy: Option<&str>) -> Feature {
    Feature {
        name: "clang",
        status,
        reason,
        remedy: remedy.map(str::to_string),
    }
}

impl Report {
    /// The checks that are not supported.
    pub fn problems(&self) -> impl Iterator<Item = &Feature> {
        self.features.iter().filter(|f| !f.is_supported())
    }

    /// Whether everything is supported.
    pub fn all_supported(&self) -> bool {
        self.problems().next().is_none()
    }

    /// The report as a table: `FEATURE  STATUS  DETAILS`, a `fix:` line under each
    /// problem, and a count at the end.
    pub fn render(&self) -> String {
        let name_w = self
            .features
            .iter()
            .map(|f| f.name.len())
            .max()
            .unwrap_or(7)
            .max("FEATURE".len());
        let status_w = "supported".len();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<name_w$}  {:<status_w$}  DETAILS",
            "FEATURE", "STATUS"
        );
        for f in &self.features {
            let _ = writeln!(
                out,
                "{:<name_w$}  {:<status_w$}  {}",
                f.name,
                f.status.to_string(),
                f.reason
            );
            if let Some(r) = &f.remedy {
                if !f.is_supported() {
                    let _ = writeln!(out, "{:<name_w$}  {:<status_w$}  fix: {r}", "", "");
                }
            }
        }
        let count = |s: Status| self.features.iter().filter(|f| f.status == s).count();
        let _ = writeln!(
            out,
            "\n{} supported, {} missing, {} refused",
            count(Status::Supported),
            count(Status::Missing),
            count(Status::Refused)
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_layout() {
        let r = Report {
            features: vec![
                Feature {
                    name: "bpf",
                    status: Status::Supported,
                    reason: "bpf() loads programs".to_string(),
                    remedy: None,
                },
                Feature {
                    name: "kprobe",
                    status: Status::Missing,
                    reason: "no kprobes".to_string(),
                    remedy: Some("use a kernel with CONFIG_KPROBE_EVENTS=y".to_string()),
                },
            ],
        };
        assert_eq!(
            r.render(),
            "FEATURE  STATUS     DETAILS\n\
             bpf      supported  bpf() loads programs\n\
             kprobe   missing    no kprobes\n\
             \x20                   fix: use a kernel with CONFIG_KPROBE_EVENTS=y\n\
             \n1 supported, 1 missing, 0 refused\n"
        );
        assert!(!r.all_supported());
        assert_eq!(r.problems().count(), 1);
    }
}
