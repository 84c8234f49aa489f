//! Lock names: what callers pass, normalised into a sorted, duplicate-free set.

use std::fmt;
use std::sync::Arc;

use crate::error::{Error, Result};

/// The sorted, duplicate-free names of one lock.
///
/// A lock over several names is taken all-or-nothing, so the order in which a caller lists them
/// does not matter: `["a", "b"]` and `["b", "a", "a"]` are the same lock. Displays as `"a"` for
/// one name and `["a", "b"]` for several.
///
/// # Examples
///
/// ```
/// use redis_mutex::LockNames;
///
/// let names = LockNames::new(["b", "a", "b"]).unwrap();
/// assert_eq!(names.as_slice(), ["a", "b"]);
/// assert_eq!(names.to_string(), r#"["a", "b"]"#);
/// assert!(LockNames::new([""; 0]).is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LockNames(Arc<[String]>);

impl LockNames {
    /// Validates and normalises `names`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`] when there is no name at all or a name is empty.
    pub fn new(names: impl IntoLockNames) -> Result<Self> {
        let mut names = names.into_lock_names();
        if names.is_empty() {
            return Err(Error::InvalidName {
                name: String::new(),
                reason: "a lock needs at least one name; pass e.g. \"orders\" or [\"a\", \"b\"]"
                    .into(),
            });
        }
        if let Some(empty) = names.iter().find(|name| name.is_empty()) {
            return Err(Error::InvalidName {
                name: empty.clone(),
                reason:
                    "lock names must not be empty; name what the lock protects, e.g. \"orders\""
                        .into(),
            });
        }
        names.sort_unstable();
        names.dedup();
        Ok(LockNames(names.into()))
    }

    /// The names, sorted and without duplicates.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    /// How many distinct names the lock covers.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always `false`: a lock has at least one name.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for LockNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            [one] => write!(f, "{one:?}"),
            many => f.debug_list().entries(many).finish(),
        }
    }
}

impl fmt::Debug for LockNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Anything that names one lock: a string, or a collection of strings taken all-or-nothing.
///
/// Implemented for `&str`, `String`, `&String`, arrays, slices and `Vec`s of string-likes, and
/// [`LockNames`] itself.
pub trait IntoLockNames {
    /// The names as given, in any order, possibly with duplicates.
    fn into_lock_names(self) -> Vec<String>;
}

impl IntoLockNames for &str {
    fn into_lock_names(self) -> Vec<String> {
        vec![self.to_owned()]
    }
}

impl IntoLockNames for String {
    fn into_lock_names(self) -> Vec<String> {
        vec![self]
    }
}

impl IntoLockNames for &String {
    fn into_lock_names(self) -> Vec<String> {
        vec![self.clone()]
    }
}

impl<S: AsRef<str>, const N: usize> IntoLockNames for [S; N] {
    fn into_lock_names(self) -> Vec<String> {
        self.iter().map(|s| s.as_ref().to_owned()).collect()
    }
}

impl<S: AsRef<str>> IntoLockNames for &[S] {
    fn into_lock_names(self) -> Vec<String> {
        self.iter().map(|s| s.as_ref().to_owned()).collect()
    }
}

impl<S: AsRef<str>> IntoLockNames for Vec<S> {
    fn into_lock_names(self) -> Vec<String> {
        self.iter().map(|s| s.as_ref().to_owned()).collect()
    }
}

impl IntoLockNames for LockNames {
    fn into_lock_names(self) -> Vec<String> {
        self.0.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_duplicates_do_not_matter() {
        let a = LockNames::new(["a", "b"]).unwrap();
        let b = LockNames::new(vec!["b", "a", "a"]).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn empty_inputs_are_rejected() {
        assert!(matches!(LockNames::new(""), Err(Error::InvalidName { .. })));
        assert!(matches!(
            LockNames::new(Vec::<String>::new()),
            Err(Error::InvalidName { .. })
        ));
        assert!(matches!(
            LockNames::new(["a", ""]),
            Err(Error::InvalidName { .. })
        ));
    }

    #[test]
    fn display_quotes_names() {
        assert_eq!(LockNames::new("x").unwrap().to_string(), "\"x\"");
        assert_eq!(
            LockNames::new(["y", "x"]).unwrap().to_string(),
            "[\"x\", \"y\"]"
        );
    }
}
