//! Traffic counters and rate estimates (`IPVS_STATS_ATTR_*`).

use crate::codec::{AttrId, Attrs};
use crate::consts::StatsAttr;
use crate::error::Error;

/// Counters since the service or destination was added (or last zeroed), and the kernel's
/// rate estimates. The kernel sends each set twice: `*_STATS` with 32-bit counters and
/// `*_STATS64` with 64-bit ones; this holds the 64-bit set when present.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Stats {
    /// `IPVS_STATS_ATTR_CONNS`: connections scheduled.
    pub conns: u64,
    /// `IPVS_STATS_ATTR_INPKTS`: incoming packets.
    pub in_packets: u64,
    /// `IPVS_STATS_ATTR_OUTPKTS`: outgoing packets.
    pub out_packets: u64,
    /// `IPVS_STATS_ATTR_INBYTES`: incoming bytes.
    pub in_bytes: u64,
    /// `IPVS_STATS_ATTR_OUTBYTES`: outgoing bytes.
    pub out_bytes: u64,
    /// `IPVS_STATS_ATTR_CPS`: current connection rate.
    pub cps: u64,
    /// `IPVS_STATS_ATTR_INPPS`: current incoming packet rate.
    pub in_pps: u64,
    /// `IPVS_STATS_ATTR_OUTPPS`: current outgoing packet rate.
    pub out_pps: u64,
    /// `IPVS_STATS_ATTR_INBPS`: current incoming byte rate.
    pub in_bps: u64,
    /// `IPVS_STATS_ATTR_OUTBPS`: current outgoing byte rate.
    pub out_bps: u64,
}

impl Stats {
    /// Reads the 64-bit set at `stats64`, else the 32-bit set at `stats`, else zeros.
    pub(crate) fn decode_either<T: AttrId>(
        attrs: &Attrs<'_, T>,
        stats64: T,
        stats: T,
    ) -> Result<Self, Error> {
        if let Some(nested) = attrs.opt_nested(stats64, "stats64")? {
            return Self::decode(&nested, true);
        }
        match attrs.opt_nested(stats, "stats")? {
            Some(nested) => Self::decode(&nested, false),
            None => Ok(Stats::default()),
        }
    }

    /// In the 32-bit set, byte counters are still 64-bit (`nla_put_u64_64bit`).
    fn decode(attrs: &Attrs<'_, StatsAttr>, wide: bool) -> Result<Self, Error> {
        let get = |ty: StatsAttr| -> Result<u64, Error> {
            let wide = wide || matches!(ty, StatsAttr::Inbytes | StatsAttr::Outbytes);
            Ok(if wide {
                attrs.opt_u64(ty)?.unwrap_or(0)
            } else {
                attrs.opt_u32(ty)?.map_or(0, u64::from)
            })
        };
        Ok(Stats {
            conns: get(StatsAttr::Conns)?,
            in_packets: get(StatsAttr::Inpkts)?,
            out_packets: get(StatsAttr::Outpkts)?,
            in_bytes: get(StatsAttr::Inbytes)?,
            out_bytes: get(StatsAttr::Outbytes)?,
            cps: get(StatsAttr::Cps)?,
            in_pps: get(StatsAttr::Inpps)?,
            out_pps: get(StatsAttr::Outpps)?,
            in_bps: get(StatsAttr::Inbps)?,
            out_bps: get(StatsAttr::Outbps)?,
        })
    }
}
