//! The guest's initramfs: busybox, `init.sh` and the kernel modules, cached in `target/vm/`.

use std::collections::hash_map::DefaultHasher;
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::UNIX_EPOCH;

use anyhow::{bail, Context, Result};

use super::cpio::Archive;
use super::host::Host;
use super::modules::{self, Module};

const INIT: &str = include_str!("init.sh");
/// The code that lays the archive out; a change to it must rebuild cached archives too.
const LAYOUT: [&str; 2] = [include_str!("initramfs.rs"), include_str!("cpio.rs")];

/// Returns the initramfs for `host`, building it only if an input changed since the last build.
pub fn build(host: &Host) -> Result<PathBuf> {
    let order = modules::resolve(&host.modules_dir)?;
    if !order.missing_optional.is_empty() {
        eprintln!(
            "vm: kernel {} lacks optional modules: {}",
            host.kernel_version,
            order.missing_optional.join(" ")
        );
    }
    let dir = super::vm_dir();
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let image = dir.join(format!("initramfs-{}.cpio", host.kernel_version));
    let stamp = image.with_extension("cpio.key");
    let key = format!("{:016x}", input_key(host, &order.modules)?);
    if image.is_file() && fs::read_to_string(&stamp).is_ok_and(|old| old == key) {
        return Ok(image);
    }

    eprintln!(
        "vm: building {} ({} modules)",
        image.display(),
        order.modules.len()
    );
    let bytes = archive(host, &order.modules)?;
    // Written aside and renamed, so a concurrent run never boots half an archive.
    let partial = image.with_extension(format!("cpio.{}", std::process::id()));
    fs::write(&partial, bytes).with_context(|| format!("cannot write {}", partial.display()))?;
    fs::rename(&partial, &image).with_context(|| format!("cannot write {}", image.display()))?;
    fs::write(&stamp, key).with_context(|| format!("cannot write {}", stamp.display()))?;
    Ok(image)
}

fn archive(host: &Host, modules: &[Module]) -> Result<Vec<u8>> {
    let busybox = fs::read(&host.busybox)
        .with_context(|| format!("cannot read {}", host.busybox.display()))?;
    let mut cpio = Archive::new(Vec::new());
    for dir in ["bin", "dev", "proc", "sys", "host", "out", "modules"] {
        cpio.dir(dir)?;
    }
    cpio.char_device("dev/console", 0o600, (5, 1))?;
    cpio.file("bin/busybox", 0o755, &busybox)?;
    cpio.symlink("bin/sh", "busybox")?;
    cpio.file("init", 0o755, INIT.as_bytes())?;
    let mut order = String::new();
    for module in modules {
        cpio.file(
            &format!("modules/{}.ko", module.name),
            0o644,
            &module_bytes(&module.path)?,
        )?;
        order.push_str(&module.name);
        order.push('\n');
    }
    cpio.file("modules/order", 0o644, order.as_bytes())?;
    Ok(cpio.finish()?)
}

/// The module's ELF object; busybox `insmod` cannot read compressed modules, so unpack them here.
fn module_bytes(path: &Path) -> Result<Vec<u8>> {
    let extension = path
        .extension()
        .and_then(|ext| ext.to_str())
        .unwrap_or_default();
    let decompressor = match extension {
        "ko" => return fs::read(path).with_context(|| format!("cannot read {}", path.display())),
        "xz" => "xz",
        "zst" => "zstd",
        "gz" => "gzip",
        _ => bail!("unknown module compression: {}", path.display()),
    };
    let output = Command::new(decompressor)
        .arg("-dc")
        .arg(path)
        .output()
        .with_context(|| {
            format!(
                "cannot run {decompressor} to unpack {} (install it)",
                path.display()
            )
        })?;
    if !output.status.success() {
        bail!(
            "{decompressor} -dc {} failed: {}",
            path.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(output.stdout)
}

/// Everything the archive is made of: file identities, the module order, init and the layout code.
fn input_key(host: &Host, modules: &[Module]) -> Result<u64> {
    let mut hasher = DefaultHasher::new();
    (INIT, LAYOUT).hash(&mut hasher);
    let files = std::iter::once(&host.busybox).chain(modules.iter().map(|module| &module.path));
    for path in files {
        let meta = fs::metadata(path).with_context(|| format!("cannot stat {}", path.display()))?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|time| time.duration_since(UNIX_EPOCH).ok());
        (path, meta.len(), mtime).hash(&mut hasher);
    }
    Ok(hasher.finish())
}
