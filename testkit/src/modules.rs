//! What the guest kernel ships as modules.

use crate::run;

/// The IPVS scheduler modules this kernel ships (`ip_vs_<name>.ko`), read from the module
/// tree.
pub fn scheduler_modules() -> Vec<String> {
    let release = run("uname", &["-r"]);
    let dir = format!("/lib/modules/{}/kernel/net/netfilter/ipvs", release.trim());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {dir}: {e}"))
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            let stem = name.strip_prefix("ip_vs_")?.split(".ko").next()?.to_owned();
            (stem != "ftp" && !stem.starts_with("pe_")).then_some(stem)
        })
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no scheduler modules in {dir}");
    names
}
