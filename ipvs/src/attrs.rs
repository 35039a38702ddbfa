//! Netlink attribute plumbing: building attribute lists for requests (with neli) and reading
//! them back from replies (in place). Wire encodings follow the kernel's `nla_put_*` /
//! `nla_get_*` calls in `net/netfilter/ipvs/ip_vs_ctl.c` (ports are big-endian, most other
//! integers host order).

use std::io::Cursor;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use neli::consts::genl::NlAttrType;
use neli::genl::{AttrTypeBuilder, NlattrBuilder};
use neli::types::{Buffer, GenlBuffer};
use neli::ToBytes;

use crate::error::Error;
use crate::wire;

/// An attribute list under construction, typed by the attribute enum of its level.
#[derive(Debug)]
pub(crate) struct AttrList<T>(GenlBuffer<T, Buffer>);

impl<T: NlAttrType> AttrList<T> {
    pub(crate) fn new() -> Self {
        AttrList(GenlBuffer::new())
    }

    pub(crate) fn bytes(&mut self, ty: T, payload: Vec<u8>) -> Result<&mut Self, Error> {
        self.push(ty, false, payload)
    }

    pub(crate) fn u8(&mut self, ty: T, value: u8) -> Result<&mut Self, Error> {
        self.bytes(ty, vec![value])
    }

    pub(crate) fn u16(&mut self, ty: T, value: u16) -> Result<&mut Self, Error> {
        self.bytes(ty, value.to_ne_bytes().to_vec())
    }

    pub(crate) fn be16(&mut self, ty: T, value: u16) -> Result<&mut Self, Error> {
        self.bytes(ty, value.to_be_bytes().to_vec())
    }

    pub(crate) fn u32(&mut self, ty: T, value: u32) -> Result<&mut Self, Error> {
        self.bytes(ty, value.to_ne_bytes().to_vec())
    }

    /// A NUL-terminated string (`NLA_NUL_STRING`).
    pub(crate) fn string(&mut self, ty: T, value: &str) -> Result<&mut Self, Error> {
        let mut payload = Vec::with_capacity(value.len() + 1);
        payload.extend_from_slice(value.as_bytes());
        payload.push(0);
        self.bytes(ty, payload)
    }

    /// An address as `struct in_addr` (4 bytes) or `struct in6_addr` (16 bytes); the kernel
    /// copies it into a zeroed `union nf_inet_addr`.
    pub(crate) fn addr(&mut self, ty: T, addr: IpAddr) -> Result<&mut Self, Error> {
        let payload = match addr {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        };
        self.bytes(ty, payload)
    }

    /// A nested attribute holding `children` (sets `NLA_F_NESTED`).
    pub(crate) fn nested<C: NlAttrType>(
        &mut self,
        ty: T,
        children: &AttrList<C>,
    ) -> Result<&mut Self, Error> {
        let mut buffer = Cursor::new(Vec::new());
        children
            .0
            .to_bytes(&mut buffer)
            .map_err(|e| Error::Encode(e.to_string()))?;
        self.push(ty, true, buffer.into_inner())
    }

    fn push(&mut self, ty: T, nested: bool, payload: Vec<u8>) -> Result<&mut Self, Error> {
        let attr_type = AttrTypeBuilder::default()
            .nla_type(ty)
            .nla_nested(nested)
            .build()
            .map_err(|e| Error::Encode(e.to_string()))?;
        let attr = NlattrBuilder::default()
            .nla_type(attr_type)
            .nla_payload(Buffer::from(payload))
            .build()
            .map_err(|e| Error::Encode(e.to_string()))?;
        self.0.push(attr);
        Ok(self)
    }

    pub(crate) fn into_inner(self) -> GenlBuffer<T, Buffer> {
        self.0
    }
}

/// The attributes of one level of a reply, borrowed from the receive buffer and read by raw
/// attribute number, so that one type serves every level (the kernel reuses numbers across
/// levels). Lengths are checked once, when the list is parsed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attrs<'a> {
    /// Where these attributes sit, for error messages ("service", "service stats").
    what: &'static str,
    packed: &'a [u8],
}

/// `NLA_TYPE_MASK`: the type without `NLA_F_NESTED` and `NLA_F_NET_BYTEORDER`.
const NLA_TYPE_MASK: u16 = 0x3fff;
/// `struct nlattr`.
const NLA_HDRLEN: usize = 4;

impl<'a> Attrs<'a> {
    /// The attributes packed in `payload`, each checked to fit in it.
    pub(crate) fn parse(what: &'static str, payload: &'a [u8]) -> Result<Self, Error> {
        let mut rest = payload;
        while !rest.is_empty() {
            let len = if rest.len() >= NLA_HDRLEN {
                usize::from(wire::u16_at(rest, 0))
            } else {
                0
            };
            if len < NLA_HDRLEN || len > rest.len() {
                return Err(Error::Decode(format!(
                    "{what}: malformed attributes: length {len} with {} bytes left",
                    rest.len()
                )));
            }
            rest = &rest[wire::align(len).min(rest.len())..];
        }
        Ok(Attrs {
            what,
            packed: payload,
        })
    }

    /// Each attribute's type and payload, in order.
    fn iter(&self) -> impl Iterator<Item = (u16, &'a [u8])> {
        let mut rest = self.packed;
        std::iter::from_fn(move || {
            if rest.len() < NLA_HDRLEN {
                return None;
            }
            // Checked by `parse`.
            let len = usize::from(wire::u16_at(rest, 0));
            let ty = wire::u16_at(rest, 2) & NLA_TYPE_MASK;
            let payload = &rest[NLA_HDRLEN..len];
            rest = &rest[wire::align(len).min(rest.len())..];
            Some((ty, payload))
        })
    }

    pub(crate) fn get(&self, ty: impl Into<u16>) -> Option<&'a [u8]> {
        let ty = ty.into();
        self.iter()
            .find(|(t, _)| *t == ty)
            .map(|(_, payload)| payload)
    }

    fn fixed<const N: usize>(&self, ty: u16) -> Result<Option<[u8; N]>, Error> {
        match self.get(ty) {
            None => Ok(None),
            Some(raw) => raw
                .get(..N)
                .and_then(|b| b.try_into().ok())
                .map(Some)
                .ok_or_else(|| {
                    Error::Decode(format!(
                        "{}: attribute {ty} has {} bytes, expected {N}",
                        self.what,
                        raw.len()
                    ))
                }),
        }
    }

    pub(crate) fn opt_u8(&self, ty: impl Into<u16>) -> Result<Option<u8>, Error> {
        Ok(self.fixed::<1>(ty.into())?.map(|b| b[0]))
    }

    pub(crate) fn opt_u16(&self, ty: impl Into<u16>) -> Result<Option<u16>, Error> {
        Ok(self.fixed::<2>(ty.into())?.map(u16::from_ne_bytes))
    }

    pub(crate) fn opt_be16(&self, ty: impl Into<u16>) -> Result<Option<u16>, Error> {
        Ok(self.fixed::<2>(ty.into())?.map(u16::from_be_bytes))
    }

    pub(crate) fn opt_u32(&self, ty: impl Into<u16>) -> Result<Option<u32>, Error> {
        Ok(self.fixed::<4>(ty.into())?.map(u32::from_ne_bytes))
    }

    pub(crate) fn opt_u64(&self, ty: impl Into<u16>) -> Result<Option<u64>, Error> {
        Ok(self.fixed::<8>(ty.into())?.map(u64::from_ne_bytes))
    }

    pub(crate) fn u16(&self, ty: impl Into<u16> + Copy) -> Result<u16, Error> {
        self.opt_u16(ty)?.ok_or_else(|| self.missing(ty.into()))
    }

    pub(crate) fn u32(&self, ty: impl Into<u16> + Copy) -> Result<u32, Error> {
        self.opt_u32(ty)?.ok_or_else(|| self.missing(ty.into()))
    }

    /// A NUL-terminated string; bytes after the first NUL are ignored.
    pub(crate) fn opt_string(&self, ty: impl Into<u16>) -> Result<Option<String>, Error> {
        let ty = ty.into();
        let Some(raw) = self.get(ty) else {
            return Ok(None);
        };
        let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
        String::from_utf8(raw[..end].to_vec())
            .map(Some)
            .map_err(|_| Error::Decode(format!("{}: attribute {ty} is not UTF-8", self.what)))
    }

    /// An address stored as `union nf_inet_addr` (16 bytes, IPv4 in the first four).
    pub(crate) fn opt_addr(
        &self,
        ty: impl Into<u16>,
        inet6: bool,
    ) -> Result<Option<IpAddr>, Error> {
        let ty = ty.into();
        let Some(raw) = self.get(ty) else {
            return Ok(None);
        };
        let addr = if inet6 {
            raw.get(..16)
                .and_then(|b| <[u8; 16]>::try_from(b).ok())
                .map(|b| IpAddr::V6(Ipv6Addr::from(b)))
        } else {
            raw.get(..4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(|b| IpAddr::V4(Ipv4Addr::from(b)))
        };
        addr.map(Some).ok_or_else(|| {
            Error::Decode(format!(
                "{}: address attribute {ty} has {} bytes",
                self.what,
                raw.len()
            ))
        })
    }

    pub(crate) fn opt_nested(
        &self,
        ty: impl Into<u16>,
        what: &'static str,
    ) -> Result<Option<Attrs<'a>>, Error> {
        match self.get(ty) {
            None => Ok(None),
            Some(raw) => Attrs::parse(what, raw).map(Some),
        }
    }

    pub(crate) fn nested(
        &self,
        ty: impl Into<u16> + Copy,
        what: &'static str,
    ) -> Result<Attrs<'a>, Error> {
        self.opt_nested(ty, what)?
            .ok_or_else(|| self.missing(ty.into()))
    }

    pub(crate) fn missing(&self, ty: u16) -> Error {
        Error::Decode(format!("{}: attribute {ty} is missing", self.what))
    }
}
