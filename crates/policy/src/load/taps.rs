//! Taps: `visor.taps` (pktvisor's `TapManager::load`) and the taps a policy's input reads
//! (`input.tap`, `input.tap_selector`).

use super::*;
use crate::error::PolicyErrorKind;

impl<'c> Loader<'c> {
    /// `TapManager::load` (strict): every tap of a `visor.taps` map. Returns their names.
    pub fn load_taps(&mut self, taps: &Node) -> Result<Vec<String>, PolicyError> {
        let mut added = Vec::new();
        for (key, value) in taps.entries() {
            let count = self.state.taps.len() + 1;
            limits::check(
                &self.state.source,
                key.line,
                "too many taps",
                count,
                MAX_TAPS,
            )?;
            let Some(name) = key.scalar() else {
                return Err(self.err(key.line, "expecting tap identifier"));
            };
            if !value.is_map() {
                return Err(self.err(key.line, "expecting tap configuration map"));
            }
            // TapManager::load
            self.warn_unknown_keys(
                value,
                &format!("tap '{name}'"),
                &["input_type", "config", "tags"],
            );
            let input_type = match value.get("input_type").and_then(Node::scalar) {
                Some(t) => t,
                None => {
                    let line = value.get("input_type").map_or(key.line, |n| n.line);
                    return Err(self.err(line, "missing or invalid tap type key 'input_type'"));
                }
            };
            if !self.catalog.has_input_type(input_type) {
                let line = value.get("input_type").map_or(key.line, |n| n.line);
                return Err(self.err(
                    line,
                    format!("Tap '{name}' requires input stream type '{input_type}' which is not available"),
                ));
            }
            let config =
                self.optional_map(value, "config", "tap configuration is not a map", |_, m| {
                    m.to_string()
                })?;
            let tags =
                self.optional_map(value, "tags", "tap tags is not a map", |_, m| m.to_string())?;
            if self.tap(name).is_some() {
                return Err(self
                    .err(key.line, format!("module name '{name}' already exists"))
                    .with_kind(PolicyErrorKind::AlreadyDefined));
            }
            // The Tap constructor (an AbstractModule) checks its name.
            check_module_name(name).map_err(|m| self.err(key.line, m))?;
            self.taps.insert(name.to_string(), self.state.taps.len());
            self.state.taps.push(Tap {
                name: name.to_string(),
                input_type: input_type.to_string(),
                config,
                tags,
                line: key.line,
            });
            added.push(name.to_string());
        }
        Ok(added)
    }

    /// `TapManager::get_input_taps_name`: `input.tap` or the taps matching
    /// `input.tap_selector`.
    pub(super) fn resolve_taps(&self, input: &Node) -> Result<ResolvedTaps, PolicyError> {
        let tap = input.get("tap");
        let selector = input.get_entry("tap_selector");
        match (tap, selector) {
            (Some(t), Some(_)) => Err(self.err(
                t.line,
                "input can have only key 'input.tap' or key 'input.tap_selector'",
            )),
            (None, None) => Err(self.err(
                input.line,
                "missing key 'input.tap' or key 'input.tap_selector'",
            )),
            (Some(t), None) => {
                let Some(name) = t.scalar() else {
                    return Err(self.err(t.line, "invalid tap at key 'input.tap'"));
                };
                if self.tap(name).is_none() {
                    return Err(self.err(t.line, format!("tap '{name}' does not exist")));
                }
                Ok(ResolvedTaps {
                    tap: Some(name.to_string()),
                    selector: None,
                    names: vec![name.to_string()],
                })
            }
            (None, Some((k, sel))) => {
                if !sel.is_map() {
                    return Err(self.err(k.line, "'input.tap_selector' is not a map"));
                }
                let (all, list) = match (sel.get_entry("all"), sel.get_entry("any")) {
                    (Some((k, _)), Some(_)) => {
                        return Err(self.err(
                            k.line,
                            "input can have only key 'input.tap_selector.all' or key 'input.tap_selector.any'",
                        ));
                    }
                    (None, None) => {
                        return Err(self.err(
                            k.line,
                            "missing key 'input.tap_selector.all' or key 'input.tap_selector.any'",
                        ));
                    }
                    (Some((k, v)), None) => {
                        if !v.is_seq() {
                            return Err(
                                self.err(k.line, "'input.tap_selector.all' is not a sequence")
                            );
                        }
                        (true, v)
                    }
                    (None, Some((k, v))) => {
                        if !v.is_seq() {
                            return Err(
                                self.err(k.line, "'input.tap_selector.any' is not a sequence")
                            );
                        }
                        (false, v)
                    }
                };
                let mut matched = Vec::new();
                for tap in &self.state.taps {
                    if self.tags_match(tap, list, all)? {
                        matched.push(tap.name.clone());
                    }
                }
                if matched.is_empty() {
                    return Err(self.err(
                        k.line,
                        "no tap match found for specified 'input.tap_selector' tags",
                    ));
                }
                let tags = list
                    .items()
                    .iter()
                    .filter_map(|item| item.entries().first())
                    .filter_map(|(k, v)| Some((k.scalar()?.to_string(), v.scalar()?.to_string())))
                    .collect();
                Ok(ResolvedTaps {
                    tap: None,
                    selector: Some(TapSelector { all, tags }),
                    names: matched,
                })
            }
        }
    }

    /// `Tap::tags_match_selector_yaml`.
    pub(super) fn tags_match(
        &self,
        tap: &Tap,
        selector: &Node,
        all: bool,
    ) -> Result<bool, PolicyError> {
        let mut any_match = false;
        for item in selector.items() {
            let [(k, v)] = item.entries() else {
                return Err(self.err(
                    item.line,
                    "selector tag must contain only one key/value pair per sequence index",
                ));
            };
            let Some(key) = k.scalar() else {
                return Err(self.err(
                    k.line,
                    format!("tag key '{}' have be scalar", display_node(k)),
                ));
            };
            let Some(text) = v.scalar() else {
                return Err(self.err(k.line, format!("tag key '{key}' must have scalar value")));
            };
            let Some(tag) = tap.tags.get(key) else {
                if all {
                    return Ok(false);
                }
                continue;
            };
            let wanted = Value::from_scalar_text(text).map_err(|e| self.err(v.line, e.message))?;
            if std::mem::discriminant(tag) != std::mem::discriminant(&wanted) {
                return Err(self.err(
                    v.line,
                    format!(
                        "Tap [{}]: tag and selector value types are different for key '{key}'",
                        tap.name
                    ),
                ));
            }
            if *tag == wanted {
                any_match = true;
            } else if all {
                return Ok(false);
            }
        }
        Ok(any_match)
    }
}

/// What `input.tap` / `input.tap_selector` resolve to.
pub(super) struct ResolvedTaps {
    pub(super) tap: Option<String>,
    pub(super) selector: Option<TapSelector>,
    pub(super) names: Vec<String>,
}
