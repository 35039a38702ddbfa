//! Which kernel modules the guest loads, and in which order, from the kernel's `modules.dep`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Modules every guest needs; a kernel without one of them cannot run the tests.
const REQUIRED: &[&str] = &[
    // The 9p shares of the host's files.
    "virtio_ring",
    "virtio",
    "virtio_pci_legacy_dev",
    "virtio_pci_modern_dev",
    "virtio_pci",
    "9pnet",
    "9pnet_virtio",
    "netfs",
    "fscache",
    "9p",
    // libcrc32c asks for a crc32c implementation by name at load time; modules.dep misses it.
    "crc32c_generic",
    "libcrc32c",
    "nf_defrag_ipv4",
    "nf_defrag_ipv6",
    "nf_conntrack",
    "ip_vs",
    "ip_vs_rr",
    "ip_vs_ftp",
    "ip_vs_pe_sip",
    // Interfaces and namespaces the tests build, and the IPIP and GUE forwarding methods.
    "dummy",
    "veth",
    "tunnel4",
    "ip_tunnel",
    "ipip",
    "fou",
    // The agent's nftables table for firewall-mark rules.
    "nf_tables",
    // The direct-routing lab's L2 segment.
    "bridge",
];

/// Modules loaded when this kernel ships them: IPv6 tunnels and GRE (newer kernels' GRE method).
const OPTIONAL: &[&str] = &["tunnel6", "ip6_tunnel", "fou6", "gre", "ip_gre", "ip6_gre"];

/// One module file to put in the initramfs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    pub name: String,
    /// Absolute path under `/lib/modules/<version>/`, possibly compressed.
    pub path: PathBuf,
}

/// The modules to load, dependencies first, and the optional ones this kernel lacks.
#[derive(Debug)]
pub struct LoadOrder {
    pub modules: Vec<Module>,
    pub missing_optional: Vec<String>,
}

/// Resolves the required, optional and scheduler modules against `modules_dir`.
pub fn resolve(modules_dir: &Path) -> Result<LoadOrder> {
    let dep_file = modules_dir.join("modules.dep");
    let deps = fs::read_to_string(&dep_file)
        .with_context(|| format!("cannot read {}", dep_file.display()))?;
    let index = DepIndex::parse(&deps);
    let builtin = fs::read_to_string(modules_dir.join("modules.builtin")).unwrap_or_default();
    let builtin: BTreeSet<String> = builtin
        .lines()
        .map(|line| module_name(Path::new(line)))
        .collect();

    let mut wanted: Vec<String> = REQUIRED.iter().map(|name| (*name).to_owned()).collect();
    wanted.extend(index.schedulers());
    let mut missing_optional = Vec::new();
    for name in OPTIONAL {
        if index.contains(name) {
            wanted.push((*name).to_owned());
        } else if !builtin.contains(*name) {
            missing_optional.push((*name).to_owned());
        }
    }
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|name| !index.contains(name) && !builtin.contains(*name))
        .collect();
    if !missing.is_empty() {
        bail!(
            "kernel modules missing from {}: {}",
            modules_dir.display(),
            missing.join(" ")
        );
    }

    let mut order = Vec::new();
    let mut seen = BTreeSet::new();
    for name in wanted.iter().filter(|name| index.contains(name)) {
        index.visit(name, &mut seen, &mut order)?;
    }
    let modules = order
        .into_iter()
        .map(|name| {
            let path = modules_dir.join(&index.modules[&name].0);
            Module { name, path }
        })
        .collect();
    Ok(LoadOrder {
        modules,
        missing_optional,
    })
}

/// `kernel/net/netfilter/ipvs/ip_vs_rr.ko.xz` is module `ip_vs_rr`; `-` and `_` are the same.
pub fn module_name(path: &Path) -> String {
    let file = path
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or_default();
    let stem = file.split(".ko").next().unwrap_or(file);
    stem.replace('-', "_")
}

/// `modules.dep` by module name: the module's relative path and its direct and indirect dependencies.
struct DepIndex {
    modules: BTreeMap<String, (PathBuf, Vec<String>)>,
}

impl DepIndex {
    fn parse(text: &str) -> DepIndex {
        let mut modules = BTreeMap::new();
        for line in text.lines() {
            let Some((path, deps)) = line.split_once(':') else {
                continue;
            };
            let deps = deps
                .split_whitespace()
                .map(|dep| module_name(Path::new(dep)))
                .collect();
            modules.insert(module_name(Path::new(path)), (PathBuf::from(path), deps));
        }
        DepIndex { modules }
    }

    fn contains(&self, name: &str) -> bool {
        self.modules.contains_key(name)
    }

    /// Every IPVS scheduler this kernel ships: `ip_vs_<name>` under `netfilter/ipvs/`, less the
    /// application helpers (`ftp`) and persistence engines (`pe_*`).
    fn schedulers(&self) -> Vec<String> {
        self.modules
            .iter()
            .filter(|(_, (path, _))| {
                path.parent()
                    .is_some_and(|dir| dir.ends_with("netfilter/ipvs"))
            })
            .filter_map(|(name, _)| name.strip_prefix("ip_vs_"))
            .filter(|scheduler| *scheduler != "ftp" && !scheduler.starts_with("pe_"))
            .map(|scheduler| format!("ip_vs_{scheduler}"))
            .collect()
    }

    /// Appends `name` to `order` after its dependencies (depth first, each module once).
    fn visit(
        &self,
        name: &str,
        seen: &mut BTreeSet<String>,
        order: &mut Vec<String>,
    ) -> Result<()> {
        if !seen.insert(name.to_owned()) {
            return Ok(());
        }
        let Some((_, deps)) = self.modules.get(name) else {
            bail!("module {name} is a dependency but not in modules.dep");
        };
        for dep in deps {
            self.visit(dep, seen, order)?;
        }
        order.push(name.to_owned());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEP: &str = "\
kernel/net/netfilter/ipvs/ip_vs_rr.ko.xz: kernel/net/netfilter/ipvs/ip_vs.ko.xz kernel/net/netfilter/nf_conntrack.ko.xz kernel/lib/libcrc32c.ko.xz
kernel/net/netfilter/ipvs/ip_vs.ko.xz: kernel/net/netfilter/nf_conntrack.ko.xz kernel/lib/libcrc32c.ko.xz
kernel/net/netfilter/ipvs/ip_vs_ftp.ko.xz: kernel/net/netfilter/ipvs/ip_vs.ko.xz
kernel/net/netfilter/ipvs/ip_vs_pe_sip.ko.xz: kernel/net/netfilter/ipvs/ip_vs.ko.xz
kernel/net/netfilter/nf_conntrack.ko.xz: kernel/lib/libcrc32c.ko.xz
kernel/lib/libcrc32c.ko.xz:
kernel/drivers/net/dummy.ko:
";

    #[test]
    fn names_drop_directories_and_compression() {
        assert_eq!(module_name(Path::new("kernel/fs/9p/9p.ko.zst")), "9p");
        assert_eq!(module_name(Path::new("kernel/x/nf-nat.ko")), "nf_nat");
    }

    #[test]
    fn schedulers_exclude_helpers() {
        assert_eq!(DepIndex::parse(DEP).schedulers(), ["ip_vs_rr"]);
    }

    #[test]
    fn dependencies_come_first_once() {
        let index = DepIndex::parse(DEP);
        let (mut seen, mut order) = (BTreeSet::new(), Vec::new());
        index.visit("ip_vs_rr", &mut seen, &mut order).unwrap();
        index.visit("ip_vs_ftp", &mut seen, &mut order).unwrap();
        assert_eq!(
            order,
            [
                "libcrc32c",
                "nf_conntrack",
                "ip_vs",
                "ip_vs_rr",
                "ip_vs_ftp"
            ]
        );
    }
}
