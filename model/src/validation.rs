//! Field-level validation errors, collected so a client learns every problem at once.

use std::fmt;

use serde::Serialize;

/// One invalid field: where it is (`services[2].real_servers[0].port`) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    /// Path of the offending field, with array indices.
    pub field: String,
    /// Why the value was rejected, in lowercase, without a trailing period.
    pub message: String,
}

/// Every problem found in one input; never empty when returned as an error.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
pub struct ValidationErrors {
    errors: Vec<FieldError>,
}

impl ValidationErrors {
    /// A single error, for checks that span a whole document.
    pub fn one(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = Self::default();
        errors.add(field, message);
        errors
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    /// Records the error of `result` against `field`; the value, when there is one.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        result.map_err(|message| self.add(field, message)).ok()
    }

    /// Takes the errors of a nested value, prefixing their paths with `prefix`.
    pub fn nest(&mut self, prefix: &str, nested: ValidationErrors) {
        for error in nested.errors {
            let field = if error.field.is_empty() {
                prefix.to_owned()
            } else if prefix.is_empty() || error.field.starts_with('[') {
                format!("{prefix}{}", error.field)
            } else {
                format!("{prefix}.{}", error.field)
            };
            self.errors.push(FieldError {
                field,
                message: error.message,
            });
        }
    }

    /// Runs a nested validation and keeps its errors under `prefix`.
    pub fn check_nested<T>(
        &mut self,
        prefix: &str,
        result: Result<T, ValidationErrors>,
    ) -> Option<T> {
        result.map_err(|errors| self.nest(prefix, errors)).ok()
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn errors(&self) -> &[FieldError] {
        &self.errors
    }

    pub fn into_errors(self) -> Vec<FieldError> {
        self.errors
    }

    /// `Ok(())` when nothing was recorded.
    pub fn into_result(self) -> Result<(), ValidationErrors> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", error.field, error.message)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_paths_join_with_dots_and_indices() {
        let mut inner = ValidationErrors::default();
        inner.add("port", "must be between 1 and 65535");
        let mut list = ValidationErrors::default();
        list.nest("[3]", inner);
        let mut outer = ValidationErrors::default();
        outer.nest("real_servers", list);
        assert_eq!(outer.errors()[0].field, "real_servers[3].port");
        assert_eq!(
            outer.to_string(),
            "real_servers[3].port: must be between 1 and 65535"
        );
    }

    #[test]
    fn an_empty_prefix_keeps_paths_as_they_are() {
        let mut inner = ValidationErrors::default();
        inner.add("port", "must be between 1 and 65535");
        let mut outer = ValidationErrors::default();
        outer.nest("", inner);
        assert_eq!(outer.errors()[0].field, "port");
    }
}
