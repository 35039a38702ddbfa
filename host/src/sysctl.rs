//! Sysctls under `/proc/sys`, read and written as text. `net.*` sysctls belong to the
//! network namespace of the thread that opens them.

use std::fmt;
use std::fs;
use std::io;
use std::path::PathBuf;

/// A sysctl by its path segments, so an interface name with a dot (`eth0.100`) stays one
/// segment: `net.ipv4.conf.eth0/100.arp_ignore` in `sysctl`'s own notation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sysctl {
    segments: Vec<String>,
}

/// A sysctl that could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("sysctl {name}: cannot {action} {path}: {source}")]
pub struct SysctlError {
    pub name: String,
    pub action: &'static str,
    pub path: String,
    #[source]
    pub source: io::Error,
}

impl Sysctl {
    pub fn new<S: Into<String>>(segments: impl IntoIterator<Item = S>) -> Self {
        Sysctl {
            segments: segments.into_iter().map(Into::into).collect(),
        }
    }

    /// Parses the dotted form, where every dot separates segments (`net.ipv4.ip_forward`).
    pub fn dotted(name: &str) -> Self {
        Sysctl::new(name.split('.'))
    }

    pub fn path(&self) -> PathBuf {
        let mut path = PathBuf::from("/proc/sys");
        path.extend(&self.segments);
        path
    }

    /// The value, without the trailing newline.
    pub fn read(&self) -> Result<String, SysctlError> {
        fs::read_to_string(self.path())
            .map(|value| value.trim_end().to_owned())
            .map_err(|source| self.error("read", source))
    }

    pub fn write(&self, value: &str) -> Result<(), SysctlError> {
        fs::write(self.path(), format!("{value}\n")).map_err(|source| self.error("write", source))
    }

    fn error(&self, action: &'static str, source: io::Error) -> SysctlError {
        SysctlError {
            name: self.to_string(),
            action,
            path: self.path().display().to_string(),
            source,
        }
    }
}

impl fmt::Display for Sysctl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.segments.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            // `sysctl`'s notation for a dot inside a segment.
            f.write_str(&segment.replace('.', "/"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interface_with_a_dot_stays_one_path_segment() {
        let sysctl = Sysctl::new(["net", "ipv4", "conf", "eth0.100", "arp_ignore"]);
        assert_eq!(
            sysctl.path(),
            PathBuf::from("/proc/sys/net/ipv4/conf/eth0.100/arp_ignore")
        );
        assert_eq!(sysctl.to_string(), "net.ipv4.conf.eth0/100.arp_ignore");
        assert_eq!(
            Sysctl::dotted("net.ipv4.vs.conntrack").path(),
            PathBuf::from("/proc/sys/net/ipv4/vs/conntrack")
        );
    }

    #[test]
    fn a_missing_sysctl_is_named_in_its_error() {
        let error = Sysctl::dotted("net.ipv4.vs.no_such_sysctl")
            .read()
            .expect_err("no such file");
        let text = error.to_string();
        assert!(
            text.starts_with("sysctl net.ipv4.vs.no_such_sysctl: cannot read /proc/sys/net/ipv4/vs/no_such_sysctl: "),
            "{text}"
        );
    }
}
