//! Configuration values as pktvisor holds them (`visor::Configurable`).
//!
//! pktvisor stores every `config:`, `filter:`, `tags:`, `window_config:`,
//! `global_handler_config` and `metric_groups` map in a `Configurable`, whose values are one
//! of: unsigned 64-bit integer, bool, string, list of strings, or a nested map. The type of a
//! scalar is decided from its text, whether it was quoted or not:
//!
//! * all ASCII digits (`[0-9]+`) → [`Value::Int`] (`"5"` and `5` alike; `-1`, `1.5`, `0x10`
//!   stay strings);
//! * `true`/`false` in any case → [`Value::Bool`];
//! * anything else, including a null (`~`, empty) which yaml-cpp reads as `"null"` →
//!   [`Value::Str`].
//!
//! Sequence items must be scalars and are kept as strings ([`Value::List`]), so a list of
//! numbers (`only_rcode: [2, 3]`) arrives as strings for the handler to parse.
//!
//! The typed getters ([`Config::u64`], [`Config::opt_bool`], ...) fail with pktvisor's
//! `config_get<T>` messages: `missing key: K` and `wrong type for key: K`.

use std::collections::HashMap;
use std::fmt;

use crate::yaml::{Kind, Node};

/// A configuration value (pktvisor's `Configurable` variant).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Bool(bool),
    /// pktvisor keeps numbers as `uint64_t`; a negative number is a string.
    Int(u64),
    Str(String),
    /// A YAML sequence of scalars, each item as its text.
    List(Vec<String>),
    /// A nested map (e.g. netprobe `targets`, flow `device_map`).
    Map(Config),
}

impl Value {
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[String]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&Config> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The value as JSON, as pktvisor's `config_json` writes it.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(n) => serde_json::Value::from(*n),
            Value::Str(s) => serde_json::Value::String(s.clone()),
            Value::List(l) => {
                serde_json::Value::Array(l.iter().cloned().map(serde_json::Value::String).collect())
            }
            Value::Map(m) => m.to_json(),
        }
    }

    /// Types a scalar from its text the way pktvisor's `config_set_yaml` does.
    pub fn from_scalar_text(text: &str) -> Result<Value, ConfigError> {
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            // yaml-cpp's as<uint64_t> fails on overflow: "bad conversion"
            return text
                .parse::<u64>()
                .map(Value::Int)
                .map_err(|_| ConfigError::new("bad conversion"));
        }
        if text.eq_ignore_ascii_case("true") || text.eq_ignore_ascii_case("false") {
            // yaml-cpp's as<bool> knows only these spellings
            return match text {
                "true" | "True" | "TRUE" => Ok(Value::Bool(true)),
                "false" | "False" | "FALSE" => Ok(Value::Bool(false)),
                _ => Err(ConfigError::new("bad conversion")),
            };
        }
        Ok(Value::Str(text.to_string()))
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(n) => write!(f, "{n}"),
            Value::Str(s) => f.write_str(s),
            Value::List(l) => write!(f, "[{}]", l.join(", ")),
            Value::Map(m) => write!(f, "{}", m.to_json()),
        }
    }
}

/// One key of a [`Config`], with the line of the key in the policy source (0 when the entry
/// was not read from a file, e.g. a default).
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: String,
    pub value: Value,
    pub line: usize,
}

/// An ordered string-keyed map of [`Value`]s (pktvisor's `Configurable`). Setting an existing
/// key replaces its value (and line) in place. Keys are indexed: a map of n keys is read in
/// O(n) (a search per key made a 40 000-key config take 1.8 s, four times 20 000 keys').
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Config {
    entries: Vec<Entry>,
    /// Position of each key in `entries`.
    index: HashMap<String, usize>,
}

/// A configuration error with pktvisor's text (`missing key: K`, `wrong type for key: K`,
/// `invalid value for sequence in key: K`, ...) and the line of the key when known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub message: String,
    pub line: Option<usize>,
}

impl ConfigError {
    pub fn new(message: impl Into<String>) -> ConfigError {
        ConfigError {
            message: message.into(),
            line: None,
        }
    }

    fn at(mut self, line: usize) -> ConfigError {
        if self.line.is_none() && line > 0 {
            self.line = Some(line);
        }
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    pub fn new() -> Config {
        Config::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Entry> {
        self.entries.iter()
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.key.as_str())
    }

    pub fn contains(&self, key: &str) -> bool {
        self.entry(key).is_some()
    }

    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.index.get(key).and_then(|&i| self.entries.get(i))
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entry(key).map(|e| &e.value)
    }

    /// The line of `key` in the policy source, when known.
    pub fn line(&self, key: &str) -> Option<usize> {
        self.entry(key).map(|e| e.line).filter(|&l| l > 0)
    }

    pub fn set(&mut self, key: impl Into<String>, value: Value) {
        self.set_at(key, value, 0);
    }

    pub fn set_at(&mut self, key: impl Into<String>, value: Value, line: usize) {
        let key = key.into();
        match self.index.get(&key).and_then(|&i| self.entries.get_mut(i)) {
            Some(e) => {
                e.value = value;
                e.line = line;
            }
            None => {
                self.index.insert(key.clone(), self.entries.len());
                self.entries.push(Entry { key, value, line });
            }
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let pos = self.index.remove(key)?;
        let removed = self.entries.remove(pos);
        // Later keys moved up one place (removal is rare: a few keys per policy).
        for (i, e) in self.entries.iter().enumerate().skip(pos) {
            self.index.insert(e.key.clone(), i);
        }
        Some(removed.value)
    }

    /// pktvisor's `config_merge`: every key of `other` is set here, replacing ours.
    pub fn merge(&mut self, other: &Config) {
        for e in &other.entries {
            self.set_at(e.key.clone(), e.value.clone(), e.line);
        }
    }

    fn typed<'a, T>(
        &'a self,
        key: &str,
        pick: impl FnOnce(&'a Value) -> Option<T>,
    ) -> Result<Option<T>, ConfigError> {
        match self.entry(key) {
            None => Ok(None),
            Some(e) => pick(&e.value)
                .map(Some)
                .ok_or_else(|| ConfigError::new(format!("wrong type for key: {key}")).at(e.line)),
        }
    }

    fn required<T>(&self, key: &str, v: Result<Option<T>, ConfigError>) -> Result<T, ConfigError> {
        v?.ok_or_else(|| ConfigError::new(format!("missing key: {key}")))
    }

    /// `config_get<uint64_t>` when the key may be absent.
    pub fn opt_u64(&self, key: &str) -> Result<Option<u64>, ConfigError> {
        self.typed(key, Value::as_u64)
    }

    /// `config_get<uint64_t>`: `missing key: K` / `wrong type for key: K`.
    pub fn u64(&self, key: &str) -> Result<u64, ConfigError> {
        self.required(key, self.opt_u64(key))
    }

    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, ConfigError> {
        self.typed(key, Value::as_bool)
    }

    pub fn bool(&self, key: &str) -> Result<bool, ConfigError> {
        self.required(key, self.opt_bool(key))
    }

    /// pktvisor's usual `config_exists(K) && config_get<bool>(K)`: false when absent, an
    /// error when present but not a bool.
    pub fn flag(&self, key: &str) -> Result<bool, ConfigError> {
        Ok(self.opt_bool(key)?.unwrap_or(false))
    }

    pub fn opt_str(&self, key: &str) -> Result<Option<&str>, ConfigError> {
        self.typed(key, Value::as_str)
    }

    pub fn str(&self, key: &str) -> Result<&str, ConfigError> {
        self.required(key, self.opt_str(key))
    }

    /// `config_get<StringList>` when the key may be absent.
    pub fn opt_list(&self, key: &str) -> Result<Option<&[String]>, ConfigError> {
        self.typed(key, Value::as_list)
    }

    pub fn list(&self, key: &str) -> Result<&[String], ConfigError> {
        self.required(key, self.opt_list(key))
    }

    pub fn opt_map(&self, key: &str) -> Result<Option<&Config>, ConfigError> {
        self.typed(key, Value::as_map)
    }

    pub fn map(&self, key: &str) -> Result<&Config, ConfigError> {
        self.required(key, self.opt_map(key))
    }

    /// The map as a JSON object, as pktvisor's `config_json` writes it (REST `info` output).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.entries
                .iter()
                .map(|e| (e.key.clone(), e.value.to_json()))
                .collect(),
        )
    }

    /// pktvisor's `config_set_yaml` on a YAML map: each entry typed as described in the
    /// module documentation. `node` must be a map.
    pub(crate) fn from_yaml(node: &Node) -> Result<Config, ConfigError> {
        let mut config = Config::new();
        config.set_yaml(node)?;
        Ok(config)
    }

    pub(crate) fn set_yaml(&mut self, node: &Node) -> Result<(), ConfigError> {
        for (k, v) in node.entries() {
            let key = k
                .as_string()
                .ok_or_else(|| ConfigError::new("bad conversion").at(k.line))?;
            let value = match &v.kind {
                Kind::Map(_) => Value::Map(Config::from_yaml(v)?),
                Kind::Seq(items) => {
                    let mut list = Vec::with_capacity(items.len());
                    for item in items {
                        match item.scalar() {
                            Some(s) => list.push(s.to_string()),
                            None => {
                                return Err(ConfigError::new(format!(
                                    "invalid value for sequence in key: {key}"
                                ))
                                .at(item.line));
                            }
                        }
                    }
                    Value::List(list)
                }
                Kind::Null => Value::Str("null".to_string()),
                Kind::Scalar(s) => Value::from_scalar_text(s).map_err(|e| e.at(v.line))?,
            };
            self.set_at(key, value, k.line);
        }
        Ok(())
    }
}

impl<'a> IntoIterator for &'a Config {
    type Item = &'a Entry;
    type IntoIter = std::slice::Iter<'a, Entry>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse;

    fn cfg(text: &str) -> Result<Config, ConfigError> {
        Config::from_yaml(&parse(text).unwrap())
    }

    #[test]
    fn scalar_typing_follows_pktvisor() {
        let c = cfg(
            "a: 5\nb: \"5\"\nc: -1\nd: 1.5\ne: TRUE\nf: 'false'\ng: yes\nh:\ni: [1, x]\nj: {k: 2}\n",
        )
        .unwrap();
        assert_eq!(c.get("a"), Some(&Value::Int(5)));
        assert_eq!(c.get("b"), Some(&Value::Int(5)));
        assert_eq!(c.get("c"), Some(&Value::Str("-1".into())));
        assert_eq!(c.get("d"), Some(&Value::Str("1.5".into())));
        assert_eq!(c.get("e"), Some(&Value::Bool(true)));
        assert_eq!(c.get("f"), Some(&Value::Bool(false)));
        assert_eq!(c.get("g"), Some(&Value::Str("yes".into())));
        assert_eq!(c.get("h"), Some(&Value::Str("null".into())));
        assert_eq!(c.get("i"), Some(&Value::List(vec!["1".into(), "x".into()])));
        assert_eq!(c.map("j").unwrap().u64("k"), Ok(2));
        assert_eq!(c.line("e"), Some(5));
    }

    #[test]
    fn getters_use_pktvisor_messages() {
        let c = cfg("n: 5\ns: text\n").unwrap();
        assert_eq!(c.u64("n"), Ok(5));
        assert_eq!(c.u64("x").unwrap_err().message, "missing key: x");
        let e = c.u64("s").unwrap_err();
        assert_eq!(e.message, "wrong type for key: s");
        assert_eq!(e.line, Some(2));
        assert_eq!(c.opt_bool("x"), Ok(None));
        assert_eq!(c.flag("x"), Ok(false));
        assert_eq!(c.flag("n").unwrap_err().message, "wrong type for key: n");
    }

    #[test]
    fn sequence_items_must_be_scalars() {
        let e = cfg("a:\n  - [1]\n").unwrap_err();
        assert_eq!(e.message, "invalid value for sequence in key: a");
        assert_eq!(e.line, Some(2));
        let e = cfg("a: 99999999999999999999999\n").unwrap_err();
        assert_eq!(e.message, "bad conversion");
    }

    #[test]
    fn merge_replaces_and_json() {
        let mut a = cfg("x: 1\ny: 2\n").unwrap();
        a.merge(&cfg("y: 3\nz: [a]\n").unwrap());
        assert_eq!(a.keys().collect::<Vec<_>>(), ["x", "y", "z"]);
        assert_eq!(a.u64("y"), Ok(3));
        assert_eq!(a.to_json(), serde_json::json!({"x": 1, "y": 3, "z": ["a"]}));
    }
}
