//! Column types that check what they read: the model's keywords (`tcp`, `masq`, `wrr`, ...)
//! and generations. A stored value outside its set is a decode error that names it, never
//! a default: the database was changed behind the server's back.

use std::fmt;
use std::str::FromStr;

use lvs_model::{
    Family, ForwardingMethod, Health, PersistenceEngine, Protocol, RealServerState, SchedulerName,
    TunnelChecksum, TunnelType,
};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::sqlite::{SqliteArgumentValue, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Encode, Sqlite, Type, ValueRef};

/// A generation of a cluster's desired state: 0 until it is first set, then bumped by every
/// committed change. Stored as an INTEGER, which the schema keeps at 0 or above.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Generation(u64);

impl Generation {
    pub const fn new(generation: u64) -> Generation {
        Generation(generation)
    }

    pub const fn get(self) -> u64 {
        self.0
    }
}

impl From<u64> for Generation {
    fn from(generation: u64) -> Generation {
        Generation(generation)
    }
}

impl From<Generation> for u64 {
    fn from(generation: Generation) -> u64 {
        generation.0
    }
}

impl fmt::Display for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Type<Sqlite> for Generation {
    fn type_info() -> SqliteTypeInfo {
        <i64 as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <i64 as Type<Sqlite>>::compatible(ty)
    }
}

impl<'q> Encode<'q, Sqlite> for Generation {
    fn encode_by_ref(
        &self,
        args: &mut Vec<SqliteArgumentValue<'q>>,
    ) -> Result<IsNull, BoxDynError> {
        let stored = i64::try_from(self.0)
            .map_err(|_| format!("generation {} is beyond SQLite's integers", self.0))?;
        <i64 as Encode<'q, Sqlite>>::encode(stored, args)
    }
}

impl<'r> Decode<'r, Sqlite> for Generation {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let stored = <i64 as Decode<'r, Sqlite>>::decode(value)?;
        u64::try_from(stored)
            .map(Generation)
            .map_err(|_| format!("generation {stored} is negative").into())
    }
}

/// A keyword enum of the model, stored as its word.
pub trait StoredKeyword: Copy + FromStr<Err = String> {
    fn word(self) -> &'static str;
}

/// A keyword column, for the query macros: `forwarding AS "forwarding: Keyword<ForwardingMethod>"`
/// reads a `ForwardingMethod`, and a nullable column is read as `Keyword<Option<..>>` with
/// `!` (`tunnel_type AS "tunnel_type!: Keyword<Option<TunnelType>>"`), NULL being `None`.
/// (The model's enums cannot be sqlx types themselves: the model does not depend on sqlx.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keyword<T>(pub T);

impl<T: StoredKeyword> Type<Sqlite> for Keyword<T> {
    fn type_info() -> SqliteTypeInfo {
        <&str as Type<Sqlite>>::type_info()
    }
}

impl<T: StoredKeyword> Type<Sqlite> for Keyword<Option<T>> {
    fn type_info() -> SqliteTypeInfo {
        <&str as Type<Sqlite>>::type_info()
    }
}

impl<'q, T: StoredKeyword> Encode<'q, Sqlite> for Keyword<T> {
    fn encode_by_ref(
        &self,
        args: &mut Vec<SqliteArgumentValue<'q>>,
    ) -> Result<IsNull, BoxDynError> {
        <&str as Encode<'q, Sqlite>>::encode(self.0.word(), args)
    }
}

impl<'r, T: StoredKeyword> Decode<'r, Sqlite> for Keyword<T> {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        if value.is_null() {
            return Err("NULL where a keyword is required".into());
        }
        let word = <&str as Decode<'r, Sqlite>>::decode(value)?;
        word.parse().map(Keyword).map_err(Into::into)
    }
}

impl<'r, T: StoredKeyword> Decode<'r, Sqlite> for Keyword<Option<T>> {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        if value.is_null() {
            return Ok(Keyword(None));
        }
        let Keyword(keyword) = <Keyword<T> as Decode<'r, Sqlite>>::decode(value)?;
        Ok(Keyword(Some(keyword)))
    }
}

/// The model's keyword enums stored in columns, and the conversions the query macros apply
/// to what they read.
macro_rules! stored_keywords {
    ($($keyword:ty),+ $(,)?) => {$(
        impl StoredKeyword for $keyword {
            fn word(self) -> &'static str {
                self.as_str()
            }
        }

        impl From<Keyword<$keyword>> for $keyword {
            fn from(Keyword(keyword): Keyword<$keyword>) -> $keyword {
                keyword
            }
        }

        impl From<Keyword<Option<$keyword>>> for Option<$keyword> {
            fn from(Keyword(keyword): Keyword<Option<$keyword>>) -> Option<$keyword> {
                keyword
            }
        }
    )+};
}

stored_keywords!(
    Protocol,
    Family,
    SchedulerName,
    PersistenceEngine,
    ForwardingMethod,
    TunnelType,
    TunnelChecksum,
    RealServerState,
    Health,
);
