//! Host-only tests: message encoding and decoding against byte strings, no kernel needed.

mod codec;
mod decode;
mod encode;
mod errors;
mod round_trip;

/// One netlink attribute, assembled by hand: `nla_len`, `nla_type`, payload, padding to 4.
pub(super) fn nla(ty: u16, payload: &[u8]) -> Vec<u8> {
    let len = 4 + payload.len();
    let mut out = Vec::with_capacity(len + 3);
    out.extend_from_slice(&(len as u16).to_ne_bytes());
    out.extend_from_slice(&ty.to_ne_bytes());
    out.extend_from_slice(payload);
    out.resize(len.div_ceil(4) * 4, 0);
    out
}

/// A nested attribute (`NLA_F_NESTED` set, as `nla_nest_start` does in the kernel).
pub(super) fn nest(ty: u16, children: &[Vec<u8>]) -> Vec<u8> {
    nla(ty | 0x8000, &children.concat())
}

/// A whole netlink message: `nlmsghdr` then `genlmsghdr` then attributes.
pub(super) fn genl_msg(
    nl_type: u16,
    flags: u16,
    seq: u32,
    pid: u32,
    cmd: u8,
    attrs: &[Vec<u8>],
) -> Vec<u8> {
    let body = attrs.concat();
    let len = 16 + 4 + body.len();
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&(len as u32).to_ne_bytes());
    out.extend_from_slice(&nl_type.to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&pid.to_ne_bytes());
    out.extend_from_slice(&[cmd, 1, 0, 0]);
    out.extend_from_slice(&body);
    out
}

/// Hex dump helper for readable assertion failures.
pub(super) fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Bytes from a hex string with whitespace anywhere and `#` comments to the end of a line.
pub(super) fn unhex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text
        .lines()
        .flat_map(|line| line.split('#').next().unwrap_or("").bytes())
        .filter(u8::is_ascii_hexdigit)
        .collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}
