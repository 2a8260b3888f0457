//! Words for a person, without the words: a message id from the Fluent
//! catalogues (`locales/<lang>/*.ftl`) and its arguments. Services say what
//! happened as a [`Message`]; the http layer renders it in the language the
//! page is shown in.

use std::borrow::Cow;

/// One argument of a message: text (a host, a handle) or a number (for
/// plurals).
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Text(String),
    Number(f64),
}

impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(v)
    }
}

impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(v.to_string())
    }
}

impl From<u64> for Arg {
    fn from(v: u64) -> Self {
        Arg::Number(v as f64)
    }
}

impl From<u32> for Arg {
    fn from(v: u32) -> Self {
        Arg::Number(f64::from(v))
    }
}

/// A message id and its named arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: Cow<'static, str>,
    pub args: Vec<(&'static str, Arg)>,
}

impl Message {
    /// A message without arguments.
    pub const fn new(id: &'static str) -> Self {
        Message { id: Cow::Borrowed(id), args: Vec::new() }
    }

    /// The message with one more argument.
    pub fn arg(mut self, name: &'static str, value: impl Into<Arg>) -> Self {
        self.args.push((name, value.into()));
        self
    }

    /// The value of argument `name`, if given.
    pub fn get(&self, name: &str) -> Option<&Arg> {
        self.args.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
}

impl std::fmt::Display for Message {
    /// The id and arguments, for logs and tests (not for people).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.id)?;
        for (name, value) in &self.args {
            match value {
                Arg::Text(v) => write!(f, " {name}={v:?}")?,
                Arg::Number(v) => write!(f, " {name}={v}")?,
            }
        }
        Ok(())
    }
}
