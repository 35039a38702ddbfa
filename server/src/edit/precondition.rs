//! The precondition of every write to an existing resource, checked inside its
//! transaction so that a change made since the caller read it is refused, not overwritten.

use super::error::{EditError, EditResult};

/// A write's precondition, as HTTP's `If-Match` states it: the write goes ahead only if
/// the resource's current ETag is listed (or the precondition is `*`, or absent).
#[derive(Debug, Default)]
pub struct IfMatch(Option<String>);

impl IfMatch {
    /// The precondition of an `If-Match` header's value: `None` for none, `*`, or ETags
    /// separated by commas.
    pub fn new(header: Option<String>) -> Self {
        IfMatch(header)
    }

    /// Only `etag` (quoted, as served) matches: for a form that carries the ETag of what
    /// it was rendered from, so a change made since is refused rather than overwritten.
    pub fn from_etag(etag: impl Into<String>) -> Self {
        IfMatch(Some(etag.into()))
    }

    /// Whether the caller stated no precondition.
    pub fn is_absent(&self) -> bool {
        self.0.is_none()
    }

    /// Fails with [`EditError::PreconditionFailed`] unless `current` (a quoted ETag)
    /// satisfies it.
    pub fn check(&self, current: &str) -> EditResult<()> {
        let Some(header) = &self.0 else { return Ok(()) };
        let matches = header.split(',').map(str::trim).any(|tag| {
            // If-Match uses the strong comparison, so a weak tag never matches.
            tag == "*" || tag == current
        });
        if matches {
            Ok(())
        } else {
            Err(EditError::PreconditionFailed(format!(
                "If-Match {header} does not match the current ETag {current}; \
                 read the resource again and reapply your change"
            )))
        }
    }
}
