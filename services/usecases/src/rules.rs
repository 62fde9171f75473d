//! The incentive rule set in force: parsed, stored under its version at
//! start, and what assessments and deadline checks are made under.

use repat_core::incentive::RuleSet;
use repat_store::{Repository, StoredRuleSet};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The rule set the service ships with (rules/bangladesh.toml).
pub const SHIPPED_RULES: &str = repat_core::incentive::rules::BANGLADESH;

/// The rule set new assessments are made under, as loaded and stored.
#[derive(Debug, Clone)]
pub struct ActiveRules {
    pub rules: RuleSet,
    pub stored: StoredRuleSet,
}

impl ActiveRules {
    /// Parses `source` without storing it (for `--check-config`).
    pub fn check(source: &str) -> Result<(), String> {
        RuleSet::from_toml(source)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Parses `source` and stores it under its version (refused if that
    /// version is already stored with other content). Done by the server
    /// at start, for no caller.
    pub async fn load(repo: &dyn Repository, source: &str) -> Result<ActiveRules, String> {
        let rules = RuleSet::from_toml(source).map_err(|e| e.to_string())?;
        let stored = StoredRuleSet {
            version: rules.version.clone(),
            name: rules.name.clone(),
            sha256: hex::encode(Sha256::digest(source.as_bytes())),
            source_toml: source.to_string(),
            load_time: chrono::Utc::now(),
        };
        let stored = repo
            .register_rule_set(&stored)
            .await
            .map_err(|e| e.to_string())?;
        Ok(ActiveRules { rules, stored })
    }

    /// The rule set of `version` (the one in force when empty), parsed.
    pub(crate) async fn version(
        &self,
        repo: &dyn Repository,
        version: &str,
    ) -> Result<(StoredRuleSet, RuleSet)> {
        if version.is_empty() || version == self.stored.version {
            return Ok((self.stored.clone(), self.rules.clone()));
        }
        let stored = repo.get_rule_set(version).await?;
        let rules = RuleSet::from_toml(&stored.source_toml).map_err(|e| {
            Error::internal(format!("stored rule set {version} no longer parses: {e}"))
        })?;
        Ok((stored, rules))
    }
}
