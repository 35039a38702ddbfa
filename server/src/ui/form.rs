//! Submitted forms: their raw values, kept to show them again, and the errors of their
//! fields, from the model's validation or from reading a number that is not one.

use std::collections::HashMap;

use lvs_model::ValidationErrors;

use crate::edit::EditError;

/// A form as submitted (or as first shown), with what is wrong with it.
#[derive(Debug, Default, Clone)]
pub struct FormState {
    values: HashMap<String, Vec<String>>,
    errors: HashMap<String, String>,
    /// A message about the whole form, such as a concurrent change.
    pub problem: Option<String>,
    /// Offer to reload: someone else changed what the form edits.
    pub conflict: bool,
}

impl FormState {
    /// A form from its submitted pairs (a field may repeat, as checkboxes do).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> FormState {
        let mut values: HashMap<String, Vec<String>> = HashMap::new();
        for (name, value) in pairs {
            values.entry(name).or_default().push(value);
        }
        FormState {
            values,
            ..FormState::default()
        }
    }

    /// Sets a field's value (to show stored values in an edit form).
    pub fn set(&mut self, name: &str, value: &(impl ToString + ?Sized)) {
        self.values.insert(name.to_owned(), vec![value.to_string()]);
    }

    /// Adds a value to a repeated field (a ticked checkbox).
    pub fn push(&mut self, name: &str, value: &(impl ToString + ?Sized)) {
        self.values
            .entry(name.to_owned())
            .or_default()
            .push(value.to_string());
    }

    /// A field's first value, trimmed; `""` when absent.
    pub fn value(&self, name: &str) -> &str {
        self.values
            .get(name)
            .and_then(|v| v.first())
            .map_or("", |v| v.trim())
    }

    /// Every value of a repeated field.
    pub fn values(&self, name: &str) -> &[String] {
        self.values.get(name).map_or(&[], Vec::as_slice)
    }

    /// Whether a checkbox was ticked, or a multi-valued field holds `value`.
    pub fn has(&self, name: &str, value: &str) -> bool {
        self.values(name).iter().any(|v| v == value)
    }

    /// Whether the field's value is `value` (for `selected` options).
    pub fn is(&self, name: &str, value: &str) -> bool {
        self.value(name) == value
    }

    /// The optional text field's value: `None` when left empty.
    pub fn text(&self, name: &str) -> Option<String> {
        Some(self.value(name))
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    /// The optional number field's value; records an error when it is not a number.
    pub fn number(&mut self, name: &str) -> Option<i64> {
        let text = self.value(name);
        if text.is_empty() {
            return None;
        }
        match text.parse() {
            Ok(number) => Some(number),
            Err(_) => {
                let message = format!("must be a whole number, not {text:?}");
                self.errors.insert(name.to_owned(), message);
                None
            }
        }
    }

    /// A number the form cannot do without; records an error when missing.
    pub fn required_number(&mut self, name: &str, why: &str) -> Option<i64> {
        if self.value(name).is_empty() {
            self.errors.insert(name.to_owned(), why.to_owned());
            return None;
        }
        self.number(name)
    }

    /// The field's error message, if any.
    pub fn error(&self, name: &str) -> Option<&str> {
        self.errors.get(name).map(String::as_str)
    }

    /// Marks field `name` as wrong, saying why.
    pub fn invalid(&mut self, name: &str, message: impl Into<String>) {
        self.errors.insert(name.to_owned(), message.into());
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty() || self.problem.is_some()
    }

    /// Adds the model's field errors; a field the form does not show goes to `problem`.
    pub fn add_validation(&mut self, errors: &ValidationErrors, shown: &[&str]) {
        for error in errors.errors() {
            // A list's entry (`scheduler_flags[1]`) is marked at the list's one input.
            let field = match error.field.split_once('[') {
                Some((list, _)) if shown.contains(&list) => list,
                _ => error.field.as_str(),
            };
            if shown.contains(&field) {
                self.errors
                    .entry(field.to_owned())
                    .or_insert_with(|| error.message.clone());
            } else {
                let line = format!("{}: {}", error.field, error.message);
                self.problem = Some(match self.problem.take() {
                    Some(problem) => format!("{problem}; {line}"),
                    None => line,
                });
            }
        }
    }

    /// Shows an edit operation's refusal on the form; other errors are returned.
    pub fn refused(&mut self, error: EditError, shown: &[&str]) -> Result<(), EditError> {
        match error {
            EditError::Invalid(errors) => self.add_validation(&errors, shown),
            EditError::PreconditionFailed(_) => {
                self.conflict = true;
                self.problem = Some(
                    "Someone else changed this since you opened the page; nothing was saved. \
                     Reload to see their change, then make yours again."
                        .to_owned(),
                );
            }
            EditError::Conflict { detail, .. } => self.problem = Some(sentence(&detail)),
            other => return Err(other),
        }
        Ok(())
    }
}

/// A message from the API's style (`"x already exists"`) as a sentence.
pub fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_input_and_marks_bad_numbers() {
        let mut form = FormState::from_pairs(vec![
            ("port".into(), " 8o ".into()),
            ("flag".into(), "a".into()),
            ("flag".into(), "b".into()),
        ]);
        assert_eq!(form.number("port"), None);
        assert_eq!(form.value("port"), "8o");
        assert_eq!(
            form.error("port"),
            Some("must be a whole number, not \"8o\"")
        );
        assert!(form.has("flag", "b"));
        assert_eq!(form.number("weight"), None);
        assert_eq!(form.error("weight"), None);
    }

    #[test]
    fn fields_not_on_the_form_become_a_form_problem() {
        let mut form = FormState::default();
        let mut errors = ValidationErrors::default();
        errors.add("port", "must be between 1 and 65535, not 0");
        errors.add("tunnel_port", "required for gue");
        form.add_validation(&errors, &["port"]);
        assert_eq!(
            form.error("port"),
            Some("must be between 1 and 65535, not 0")
        );
        assert_eq!(
            form.problem.as_deref(),
            Some("tunnel_port: required for gue")
        );
    }
}
