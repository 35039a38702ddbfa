//! The kernel image QEMU boots: Debian's `vmlinuz` unpacked once into an uncompressed `vmlinux`.
//!
//! Under TCG the kernel's own decompressor takes about 5 s of every boot. Debian builds with
//! `CONFIG_PVH`, so QEMU can boot the uncompressed ELF directly, and the unpacking happens once
//! per kernel on the host instead (about 2 s).

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};

use super::host::Host;

/// The image to pass to `-kernel`: the cached `vmlinux`, or `vmlinuz` itself if unpacking fails.
pub fn image(host: &Host) -> PathBuf {
    match unpacked(host) {
        Ok(vmlinux) => vmlinux,
        Err(error) => {
            eprintln!("vm: booting the compressed kernel, which is slower: {error:#}");
            host.kernel.clone()
        }
    }
}

fn unpacked(host: &Host) -> Result<PathBuf> {
    let dir = super::vm_dir();
    let vmlinux = dir.join(format!("vmlinux-{}", host.kernel_version));
    let stamp = dir.join(format!("vmlinux-{}.key", host.kernel_version));
    let meta = fs::metadata(&host.kernel)
        .with_context(|| format!("cannot stat {}", host.kernel.display()))?;
    let key = format!(
        "{} {} {:?}",
        host.kernel.display(),
        meta.len(),
        meta.modified().ok()
    );
    if vmlinux.is_file() && fs::read_to_string(&stamp).is_ok_and(|old| old == key) {
        return Ok(vmlinux);
    }

    eprintln!(
        "vm: unpacking {} into {}",
        host.kernel.display(),
        vmlinux.display()
    );
    let bzimage =
        fs::read(&host.kernel).with_context(|| format!("cannot read {}", host.kernel.display()))?;
    let elf = decompress(payload(&bzimage)?)?;
    if !elf.starts_with(b"\x7fELF") {
        bail!(
            "the payload of {} is not an ELF image",
            host.kernel.display()
        );
    }
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let partial = vmlinux.with_extension(format!("{}", std::process::id()));
    fs::write(&partial, elf).with_context(|| format!("cannot write {}", partial.display()))?;
    fs::rename(&partial, &vmlinux)
        .with_context(|| format!("cannot write {}", vmlinux.display()))?;
    fs::write(&stamp, key).with_context(|| format!("cannot write {}", stamp.display()))?;
    Ok(vmlinux)
}

/// The compressed kernel inside a bzImage, located by the x86 boot protocol's setup header
/// (`Documentation/arch/x86/boot.rst`): `setup_sects` at 0x1f1, `payload_offset` and
/// `payload_length` at 0x248 and 0x24c (protocol 2.08 and later), relative to the protected-mode
/// code that follows the `setup_sects + 1` sectors of real-mode code.
fn payload(bzimage: &[u8]) -> Result<&[u8]> {
    let u32_at = |at: usize| -> Option<usize> {
        let bytes: [u8; 4] = bzimage.get(at..at + 4)?.try_into().ok()?;
        usize::try_from(u32::from_le_bytes(bytes)).ok()
    };
    if bzimage.get(0x202..0x206) != Some(b"HdrS") {
        bail!("not a bzImage: no HdrS setup header");
    }
    let version = bzimage
        .get(0x206..0x208)
        .map_or(0, |bytes| u16::from_le_bytes([bytes[0], bytes[1]]));
    if version < 0x0208 {
        bail!("boot protocol {version:#x} predates payload_offset");
    }
    // A zero `setup_sects` means the historical default of four.
    let setup_sectors = match bzimage.get(0x1f1) {
        Some(0) | None => 4,
        Some(&sectors) => usize::from(sectors),
    };
    let (Some(offset), Some(length)) = (u32_at(0x248), u32_at(0x24c)) else {
        bail!("truncated setup header");
    };
    let start = (setup_sectors + 1) * 512 + offset;
    bzimage
        .get(start..start + length)
        .context("payload_offset points past the end of the image")
}

/// Unpacks with the host's tool for the payload's format, found by its magic bytes.
fn decompress(payload: &[u8]) -> Result<Vec<u8>> {
    // The build appends the uncompressed size after the stream; `--single-stream` and the
    // others' stopping at the end of their first frame ignore those trailing bytes.
    let (tool, args): (&str, &[&str]) = if payload.starts_with(b"\xfd7zXZ\x00") {
        ("xz", &["-dc", "--single-stream"])
    } else if payload.starts_with(b"\x28\xb5\x2f\xfd") {
        ("zstd", &["-dc"])
    } else if payload.starts_with(b"\x1f\x8b") {
        ("gzip", &["-dc"])
    } else {
        bail!(
            "unknown kernel compression (magic {:02x?})",
            payload.get(..4).unwrap_or_default()
        );
    };
    let scratch = std::env::temp_dir().join(format!("lvs-vm-payload-{}", std::process::id()));
    fs::write(&scratch, payload).with_context(|| format!("cannot write {}", scratch.display()))?;
    let output = Command::new(tool).args(args).arg(&scratch).output();
    let _ = fs::remove_file(&scratch);
    let output = output.with_context(|| format!("cannot run {tool} to unpack the kernel"))?;
    // gzip and zstd complain about the trailing size bytes but have written the whole image.
    if output.stdout.is_empty() {
        bail!(
            "{tool} could not unpack the kernel: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(output.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_follows_the_setup_sectors() {
        let mut image = vec![0; 4096];
        image[0x1f1] = 1;
        image[0x202..0x206].copy_from_slice(b"HdrS");
        image[0x206..0x208].copy_from_slice(&0x020f_u16.to_le_bytes());
        image[0x248..0x24c].copy_from_slice(&16_u32.to_le_bytes());
        image[0x24c..0x250].copy_from_slice(&4_u32.to_le_bytes());
        image[1024 + 16..1024 + 20].copy_from_slice(b"\xfd7zX");
        assert_eq!(payload(&image).unwrap(), b"\xfd7zX");
    }

    #[test]
    fn other_files_are_refused() {
        assert!(payload(&[0; 4096]).is_err());
        assert!(decompress(b"nope").is_err());
    }
}
