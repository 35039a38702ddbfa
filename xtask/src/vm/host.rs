//! Finding what the guest needs on the host, installing it from Debian when it is missing.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::apt;

/// The host's pieces a guest is built from.
#[derive(Debug)]
pub struct Host {
    pub qemu: PathBuf,
    /// Debian's kernel image, not the running kernel (which has no IPVS).
    pub kernel: PathBuf,
    /// The kernel's version, the name of its directory under `/lib/modules`.
    pub kernel_version: String,
    pub modules_dir: PathBuf,
    /// A statically linked busybox: the initramfs has no libc.
    pub busybox: PathBuf,
}

/// No `cpio`: the initramfs is written by `cpio.rs`.
const PACKAGES: [&str; 6] = [
    "qemu-system-x86",
    "linux-image-amd64",
    "busybox-static",
    "ipvsadm",
    // `nft`, which the agent runs for firewall-mark rules.
    "nftables",
    // lvsctl's keepalived import is checked against the table keepalived programs.
    "keepalived",
];

/// Finds the prerequisites, running `apt-get install` once if any is missing.
pub fn prepare() -> Result<Host> {
    match find() {
        Ok(host) => Ok(host),
        Err(missing) => {
            eprintln!("vm: {missing:#}");
            apt::install(&PACKAGES)?;
            find().context("VM prerequisites still missing after installing them")
        }
    }
}

fn find() -> Result<Host> {
    let qemu = apt::find("qemu-system-x86_64").context("qemu-system-x86_64 not found")?;
    // The guest test programs call it, through the chroot of the host.
    apt::find("ipvsadm").context("ipvsadm not found")?;
    apt::find("nft").context("nft not found")?;
    apt::find("keepalived").context("keepalived not found")?;
    let busybox = static_busybox()?;
    let (kernel, kernel_version) = debian_kernel()?;
    let modules_dir = Path::new("/lib/modules").join(&kernel_version);
    Ok(Host {
        qemu,
        kernel,
        kernel_version,
        modules_dir,
        busybox,
    })
}

fn static_busybox() -> Result<PathBuf> {
    // busybox-static installs /bin/busybox; plain `busybox` installs a dynamic one at the same path.
    for candidate in ["/bin/busybox", "/usr/bin/busybox"].map(PathBuf::from) {
        if candidate.is_file() && is_static_elf(&candidate)? {
            return Ok(candidate);
        }
    }
    bail!("no statically linked busybox found (package busybox-static)")
}

/// A 64-bit ELF with no `PT_INTERP` program header needs no dynamic loader.
fn is_static_elf(path: &Path) -> Result<bool> {
    const PT_INTERP: u32 = 3;
    let bytes = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let read = |at: usize, len: usize| -> Option<u64> {
        let field = bytes.get(at..at + len)?;
        Some(
            field
                .iter()
                .rev()
                .fold(0, |acc, &byte| (acc << 8) | u64::from(byte)),
        )
    };
    if bytes.get(..5) != Some(b"\x7fELF\x02") {
        return Ok(false);
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (read(0x20, 8), read(0x36, 2), read(0x38, 2))
    else {
        return Ok(false);
    };
    let interp = (0..phnum).any(|index| {
        let at = usize::try_from(phoff + index * phentsize).unwrap_or(usize::MAX);
        read(at, 4) == Some(u64::from(PT_INTERP))
    });
    Ok(!interp)
}

/// The newest `/boot/vmlinuz-<version>` that has its modules installed.
fn debian_kernel() -> Result<(PathBuf, String)> {
    let entries = fs::read_dir("/boot").context("cannot list /boot")?;
    let mut versions: Vec<String> = entries
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter_map(|name| name.strip_prefix("vmlinuz-").map(String::from))
        .filter(|version| {
            Path::new("/lib/modules")
                .join(version)
                .join("modules.dep")
                .is_file()
        })
        .collect();
    versions.sort_by_key(|version| version_key(version));
    let Some(version) = versions.pop() else {
        bail!("no /boot/vmlinuz-* with modules in /lib/modules (package linux-image-amd64)");
    };
    Ok((PathBuf::from(format!("/boot/vmlinuz-{version}")), version))
}

/// `6.1.0-56-amd64` sorts by its numbers, so `-100` comes after `-56`.
fn version_key(version: &str) -> Vec<u64> {
    version
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|part| part.parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_numerically() {
        assert!(version_key("6.1.0-100-amd64") > version_key("6.1.0-56-amd64"));
        assert!(version_key("6.10.0-1-amd64") > version_key("6.9.0-9-amd64"));
    }

    #[test]
    fn this_test_binary_is_not_static() {
        let me = std::env::current_exe().unwrap();
        // Rust binaries on glibc hosts link libc dynamically.
        assert!(!is_static_elf(&me).unwrap());
    }
}
