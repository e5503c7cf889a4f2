//! The settings and where each value comes from. Four layers, each overriding the one
//! before:
//!
//! 1. code defaults;
//! 2. the optional TOML config file (`UPSIGHT_CONFIG`, or `upsight/config.toml` in the
//!    user's config directory; see `config.example.toml`);
//! 3. values saved in the database by `upsight settings set` or the web Settings screen;
//! 4. `UPSIGHT_*` environment variables (`UPSIGHT_TRANSPORT=cli`, ...).
//!
//! A command-line flag (`--target-org`) overrides all four for one run. Resolution is a pure
//! function of the layers' text, so it is tested without touching the process environment,
//! and every resolved value remembers its source, which `upsight settings get` shows.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;
use upsight_salesforce::TransportKind;

use crate::error::{ConfigProblem, EngineError, Result};

/// Every setting key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SettingKey {
    /// A custom path to `sf`; unset to auto-detect.
    SfPath,
    /// The `sf` alias or username to use; unset for sf's default org.
    TargetOrg,
    /// `cli`, `rest` or `auto`.
    Transport,
    /// Quiet time after the last edit before a push.
    PushDelayMs,
    /// Longest wait after the first pending edit before a push.
    PushMaxDelayMs,
    /// A field map override file (TOML) for the user's org.
    FieldMapPath,
    /// How long the cached describe and instance URL stay fresh.
    DescribeTtlS,
    /// How long one `sf` process may run before its process group is killed.
    SfTimeoutS,
    /// The IANA time zone datetimes are typed and shown in; unset for the system's.
    TimeZone,
}

impl SettingKey {
    pub const ALL: [SettingKey; 9] = [
        SettingKey::SfPath,
        SettingKey::TargetOrg,
        SettingKey::Transport,
        SettingKey::PushDelayMs,
        SettingKey::PushMaxDelayMs,
        SettingKey::FieldMapPath,
        SettingKey::DescribeTtlS,
        SettingKey::SfTimeoutS,
        SettingKey::TimeZone,
    ];

    /// The key as the CLI, the config file and the database spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            SettingKey::SfPath => "sf_path",
            SettingKey::TargetOrg => "target_org",
            SettingKey::Transport => "transport",
            SettingKey::PushDelayMs => "push_delay_ms",
            SettingKey::PushMaxDelayMs => "push_max_delay_ms",
            SettingKey::FieldMapPath => "field_map_path",
            SettingKey::DescribeTtlS => "describe_ttl_s",
            SettingKey::SfTimeoutS => "sf_timeout_s",
            SettingKey::TimeZone => "time_zone",
        }
    }

    /// The environment variable that overrides it.
    pub fn env_var(self) -> String {
        format!("UPSIGHT_{}", self.as_str().to_ascii_uppercase())
    }

    /// Checks a value for this key, returning it normalised (trimmed, lower-cased where
    /// case does not matter). An empty value means "unset" and is valid for every key
    /// that has no required value.
    pub fn normalise(self, value: &str) -> std::result::Result<String, String> {
        let value = value.trim();
        match self {
            SettingKey::SfPath | SettingKey::FieldMapPath | SettingKey::TargetOrg => {
                Ok(value.to_owned())
            }
            SettingKey::Transport => TransportKind::from_str(value)
                .map(|t| t.to_string())
                .map_err(|e| e.to_string()),
            SettingKey::PushDelayMs | SettingKey::PushMaxDelayMs => {
                parse_bounded(value, 0, 3_600_000, "milliseconds").map(|n| n.to_string())
            }
            SettingKey::DescribeTtlS => {
                parse_bounded(value, 0, 30 * 86_400, "seconds").map(|n| n.to_string())
            }
            // At least a second (0 would fail every call); at most an hour, since a
            // hung sf holds its caller (and a push's edits) that long.
            SettingKey::SfTimeoutS => {
                parse_bounded(value, 1, 3_600, "seconds").map(|n| n.to_string())
            }
            // A name the time zone database knows (`Europe/Paris`, `America/New_York`,
            // `UTC`), spelled as the database spells it.
            SettingKey::TimeZone if value.is_empty() => Ok(String::new()),
            SettingKey::TimeZone => jiff::tz::TimeZone::get(value)
                .map(|zone| zone.iana_name().unwrap_or(value).to_owned())
                .map_err(|_| {
                    format!("`{value}` is not a time zone name; use one like Europe/Paris, America/New_York or UTC")
                }),
        }
    }

    fn known() -> String {
        SettingKey::ALL
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for SettingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SettingKey {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<SettingKey> {
        SettingKey::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| EngineError::UnknownSetting {
                key: s.to_owned(),
                known: SettingKey::known(),
            })
    }
}

fn parse_bounded(value: &str, min: u64, max: u64, unit: &str) -> std::result::Result<u64, String> {
    let n: u64 = value
        .parse()
        .map_err(|_| format!("expected a whole number of {unit}"))?;
    if n < min || n > max {
        return Err(format!("expected {min} to {max} {unit}"));
    }
    Ok(n)
}

/// Where a resolved value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SettingSource {
    Default,
    ConfigFile { path: PathBuf },
    Database,
    Env { var: String },
    Flag,
}

impl fmt::Display for SettingSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingSource::Default => f.write_str("default"),
            SettingSource::ConfigFile { path } => write!(f, "config file {}", path.display()),
            SettingSource::Database => f.write_str("database (upsight settings set)"),
            SettingSource::Env { var } => write!(f, "environment variable {var}"),
            SettingSource::Flag => f.write_str("command-line flag"),
        }
    }
}

/// The inputs of resolution, as text. The engine fills them from the file system, the
/// database and the process; tests fill them by hand.
#[derive(Debug, Clone, Default)]
pub struct Layers {
    /// The config file's path and text, when one exists.
    pub file: Option<(PathBuf, String)>,
    /// The values stored in the database (other keys there are ignored).
    pub database: BTreeMap<String, String>,
    /// The process environment (only `UPSIGHT_*` keys are read).
    pub env: BTreeMap<String, String>,
    /// One-run overrides from command-line flags.
    pub flags: BTreeMap<SettingKey, String>,
}

/// The resolved settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    pub sf_path: Option<PathBuf>,
    pub target_org: Option<String>,
    pub transport: TransportKind,
    pub push_delay_ms: u64,
    pub push_max_delay_ms: u64,
    pub field_map_path: Option<PathBuf>,
    pub describe_ttl_s: u64,
    pub sf_timeout_s: u64,
    /// `None`: the system's time zone.
    pub time_zone: Option<String>,
    /// Each key's effective value (as text; empty when unset) and source.
    #[serde(skip)]
    pub sources: BTreeMap<SettingKey, (String, SettingSource)>,
}

/// The code defaults, as text in the same form the other layers use.
fn default_text(key: SettingKey) -> &'static str {
    match key {
        SettingKey::SfPath
        | SettingKey::TargetOrg
        | SettingKey::FieldMapPath
        | SettingKey::TimeZone => "",
        SettingKey::Transport => "auto",
        SettingKey::PushDelayMs => "2000",
        SettingKey::PushMaxDelayMs => "10000",
        SettingKey::DescribeTtlS => "86400",
        // `upsight_salesforce::sf::DEFAULT_TIMEOUT`: a healthy sf takes ~1.5 s, and sf
        // retries a GET that meets a 5xx for ~15 s.
        SettingKey::SfTimeoutS => "60",
    }
}

impl Default for Settings {
    fn default() -> Settings {
        Settings::resolve(&Layers::default()).expect("the code defaults are valid")
    }
}

impl Settings {
    /// Resolves every key through the layers. A bad value in any layer is an error naming
    /// the layer, rather than being silently skipped: a typo in `UPSIGHT_TRANSPORT` should
    /// not quietly fall back to another transport.
    pub fn resolve(layers: &Layers) -> Result<Settings> {
        let file_values = match &layers.file {
            Some((path, text)) => parse_config_file(path, text)?,
            None => BTreeMap::new(),
        };
        let mut sources = BTreeMap::new();
        for key in SettingKey::ALL {
            let mut chosen = (default_text(key).to_owned(), SettingSource::Default);
            if let (Some(value), Some((path, _))) = (file_values.get(&key), &layers.file) {
                chosen = (
                    value.clone(),
                    SettingSource::ConfigFile { path: path.clone() },
                );
            }
            if let Some(value) = layers.database.get(key.as_str()) {
                chosen = (value.clone(), SettingSource::Database);
            }
            let var = key.env_var();
            if let Some(value) = layers.env.get(&var) {
                chosen = (value.clone(), SettingSource::Env { var });
            }
            if let Some(value) = layers.flags.get(&key) {
                chosen = (value.clone(), SettingSource::Flag);
            }
            let normalised =
                key.normalise(&chosen.0)
                    .map_err(|reason| EngineError::InvalidSetting {
                        key: key.as_str().to_owned(),
                        value: chosen.0.clone(),
                        source_name: chosen.1.to_string(),
                        reason,
                    })?;
            // An empty value set in a higher layer unsets the key (back to "none"), which is
            // only meaningful for the optional keys; the numeric keys reject it above.
            sources.insert(key, (normalised, chosen.1));
        }
        let text = |key: SettingKey| sources[&key].0.clone();
        let optional = |key: SettingKey| Some(text(key)).filter(|v| !v.is_empty());
        let number = |key: SettingKey| text(key).parse::<u64>().unwrap_or_default();
        Ok(Settings {
            sf_path: optional(SettingKey::SfPath).map(PathBuf::from),
            target_org: optional(SettingKey::TargetOrg),
            transport: text(SettingKey::Transport).parse().unwrap_or_default(),
            push_delay_ms: number(SettingKey::PushDelayMs),
            push_max_delay_ms: number(SettingKey::PushMaxDelayMs),
            field_map_path: optional(SettingKey::FieldMapPath).map(PathBuf::from),
            describe_ttl_s: number(SettingKey::DescribeTtlS),
            sf_timeout_s: number(SettingKey::SfTimeoutS),
            time_zone: optional(SettingKey::TimeZone),
            sources,
        })
    }

    /// The debounce delay of the pusher.
    pub fn push_delay(&self) -> Duration {
        Duration::from_millis(self.push_delay_ms)
    }

    /// The longest a pending edit waits before a push; never shorter than the delay.
    pub fn push_max_delay(&self) -> Duration {
        Duration::from_millis(self.push_max_delay_ms.max(self.push_delay_ms))
    }

    /// How long cached org metadata stays fresh.
    pub fn describe_ttl(&self) -> Duration {
        Duration::from_secs(self.describe_ttl_s)
    }

    /// How long one `sf` process may run.
    pub fn sf_timeout(&self) -> Duration {
        Duration::from_secs(self.sf_timeout_s)
    }

    /// The time zone datetimes are typed and shown in: the setting, or the system's (`TZ`,
    /// then `/etc/localtime`; UTC when neither names one).
    pub fn time_zone(&self) -> jiff::tz::TimeZone {
        self.time_zone
            .as_deref()
            .and_then(|name| jiff::tz::TimeZone::get(name).ok())
            .unwrap_or_else(|| jiff::tz::TimeZone::try_system().unwrap_or(jiff::tz::TimeZone::UTC))
    }

    /// The effective text value of `key` and where it came from.
    pub fn get(&self, key: SettingKey) -> (&str, &SettingSource) {
        let (value, source) = &self.sources[&key];
        (value, source)
    }
}

/// Reads the config file's keys. Unknown keys are refused (a typo should not be ignored);
/// values may be strings, integers or booleans and are checked like any other layer.
fn parse_config_file(path: &std::path::Path, text: &str) -> Result<BTreeMap<SettingKey, String>> {
    let bad = |problem: ConfigProblem| EngineError::Config {
        path: path.to_path_buf(),
        problem,
    };
    let table: toml::Table = toml::from_str(text).map_err(|e| bad(ConfigProblem::Syntax(e)))?;
    let mut out = BTreeMap::new();
    for (name, value) in table {
        let key = SettingKey::ALL
            .into_iter()
            .find(|k| k.as_str() == name)
            .ok_or_else(|| {
                bad(ConfigProblem::UnknownKey {
                    name: name.clone(),
                    known: SettingKey::known(),
                })
            })?;
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(n) => n.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => {
                return Err(bad(ConfigProblem::WrongKind {
                    name,
                    kind: other.type_str(),
                }))
            }
        };
        out.insert(key, text);
    }
    Ok(out)
}

/// The default config file: `$XDG_CONFIG_HOME/upsight/config.toml`, else
/// `~/.config/upsight/config.toml` (`~/Library/Application Support/upsight/config.toml` on
/// macOS).
pub fn default_config_path(env: &BTreeMap<String, String>) -> Option<PathBuf> {
    if let Some(path) = env.get("UPSIGHT_CONFIG").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    user_dir(env, "XDG_CONFIG_HOME", ".config").map(|d| d.join("upsight").join("config.toml"))
}

/// The default database: `$XDG_DATA_HOME/upsight/upsight.db`, else
/// `~/.local/share/upsight/upsight.db` (`~/Library/Application Support/upsight/upsight.db`
/// on macOS).
pub fn default_db_path(env: &BTreeMap<String, String>) -> Option<PathBuf> {
    user_dir(env, "XDG_DATA_HOME", ".local/share").map(|d| d.join("upsight").join("upsight.db"))
}

fn user_dir(env: &BTreeMap<String, String>, xdg_var: &str, fallback: &str) -> Option<PathBuf> {
    if let Some(dir) = env.get(xdg_var).filter(|d| d.starts_with('/')) {
        return Some(PathBuf::from(dir));
    }
    let home = PathBuf::from(env.get("HOME").filter(|h| !h.is_empty())?);
    if cfg!(target_os = "macos") {
        return Some(home.join("Library/Application Support"));
    }
    Some(home.join(fallback))
}

/// The variables resolution reads from the process: `UPSIGHT_*`, `HOME` and the XDG
/// directories.
pub fn process_env() -> BTreeMap<String, String> {
    std::env::vars()
        .filter(|(k, _)| {
            k.starts_with("UPSIGHT_")
                || k == "HOME"
                || k == "XDG_CONFIG_HOME"
                || k == "XDG_DATA_HOME"
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers() -> Layers {
        Layers::default()
    }

    #[test]
    fn defaults() {
        let s = Settings::default();
        assert_eq!(s.transport, TransportKind::Auto);
        assert_eq!(s.push_delay_ms, 2000);
        assert_eq!(s.push_max_delay_ms, 10000);
        assert_eq!(s.target_org, None);
        assert_eq!(s.get(SettingKey::Transport).1, &SettingSource::Default);
        assert_eq!(
            s.sf_timeout(),
            upsight_salesforce::sf::DEFAULT_TIMEOUT,
            "the default is the salesforce crate's"
        );
    }

    /// `sf_timeout_s` resolves through every layer like the other keys and refuses a
    /// deadline of 0 or of more than an hour.
    #[test]
    fn the_sf_timeout_is_layered_and_bounded() {
        let mut l = layers();
        l.file = Some((PathBuf::from("/c.toml"), "sf_timeout_s = 30\n".into()));
        assert_eq!(Settings::resolve(&l).unwrap().sf_timeout_s, 30);
        l.database.insert("sf_timeout_s".into(), "20".into());
        assert_eq!(Settings::resolve(&l).unwrap().sf_timeout_s, 20);
        l.env.insert("UPSIGHT_SF_TIMEOUT_S".into(), "5".into());
        let s = Settings::resolve(&l).unwrap();
        assert_eq!(s.sf_timeout(), Duration::from_secs(5));
        assert_eq!(
            s.get(SettingKey::SfTimeoutS).1,
            &SettingSource::Env {
                var: "UPSIGHT_SF_TIMEOUT_S".into()
            }
        );
        l.flags.insert(SettingKey::SfTimeoutS, "2".into());
        assert_eq!(Settings::resolve(&l).unwrap().sf_timeout_s, 2);
        for bad in ["0", "3601", "-1", "1.5", "soon", ""] {
            l.flags.insert(SettingKey::SfTimeoutS, bad.into());
            assert!(
                matches!(
                    Settings::resolve(&l),
                    Err(EngineError::InvalidSetting { .. })
                ),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn each_layer_overrides_the_one_before() {
        let mut l = layers();
        l.file = Some((
            PathBuf::from("/c.toml"),
            "transport = \"cli\"\npush_delay_ms = 500\ntarget_org = \"file\"\n".into(),
        ));
        let s = Settings::resolve(&l).unwrap();
        assert_eq!(s.transport, TransportKind::Cli);
        assert_eq!(s.push_delay_ms, 500);
        assert!(matches!(
            s.get(SettingKey::Transport).1,
            SettingSource::ConfigFile { .. }
        ));

        l.database.insert("transport".into(), "rest".into());
        l.database.insert("target_org".into(), "db".into());
        let s = Settings::resolve(&l).unwrap();
        assert_eq!(s.transport, TransportKind::Rest);
        assert_eq!(s.target_org.as_deref(), Some("db"));

        l.env.insert("UPSIGHT_TRANSPORT".into(), "CLI".into());
        let s = Settings::resolve(&l).unwrap();
        assert_eq!(s.transport, TransportKind::Cli);
        assert_eq!(
            s.get(SettingKey::Transport).1,
            &SettingSource::Env {
                var: "UPSIGHT_TRANSPORT".into()
            }
        );

        l.flags.insert(SettingKey::TargetOrg, "flag".into());
        let s = Settings::resolve(&l).unwrap();
        assert_eq!(s.target_org.as_deref(), Some("flag"));
        assert_eq!(s.push_delay_ms, 500, "untouched keys keep their layer");
    }

    #[test]
    fn an_empty_value_unsets_an_optional_key() {
        let mut l = layers();
        l.database.insert("target_org".into(), "db".into());
        l.env.insert("UPSIGHT_TARGET_ORG".into(), "".into());
        assert_eq!(Settings::resolve(&l).unwrap().target_org, None);
    }

    #[test]
    fn bad_values_name_their_layer() {
        let mut l = layers();
        l.env
            .insert("UPSIGHT_TRANSPORT".into(), "carrier-pigeon".into());
        let e = Settings::resolve(&l).unwrap_err();
        assert!(e.to_string().contains("UPSIGHT_TRANSPORT"), "{e}");
        assert_eq!(e.exit_class(), crate::ExitClass::Usage);

        let mut l = layers();
        l.database.insert("push_delay_ms".into(), "-1".into());
        let e = Settings::resolve(&l).unwrap_err();
        assert!(e.to_string().contains("database"), "{e}");

        let mut l = layers();
        l.file = Some((PathBuf::from("/c.toml"), "transprot = \"cli\"".into()));
        let e = Settings::resolve(&l).unwrap_err();
        assert!(e.to_string().contains("transprot"), "{e}");
    }

    #[test]
    fn unknown_database_keys_are_ignored() {
        let mut l = layers();
        l.database.insert("cache.org_meta".into(), "{}".into());
        assert!(Settings::resolve(&l).is_ok());
    }

    #[test]
    fn the_example_config_parses() {
        let text = include_str!("../config.example.toml");
        let mut l = layers();
        l.file = Some((PathBuf::from("config.example.toml"), text.to_owned()));
        let s = Settings::resolve(&l).unwrap();
        assert_eq!(s.transport, TransportKind::Auto);
    }

    #[test]
    fn keys_parse_case_insensitively_and_unknown_ones_list_the_known() {
        assert_eq!(
            "Target_Org".parse::<SettingKey>().unwrap(),
            SettingKey::TargetOrg
        );
        let e = "colour".parse::<SettingKey>().unwrap_err();
        assert!(e.to_string().contains("push_delay_ms"), "{e}");
    }

    #[test]
    fn default_paths() {
        let mut env = BTreeMap::new();
        env.insert("HOME".to_string(), "/home/u".to_string());
        if !cfg!(target_os = "macos") {
            assert_eq!(
                default_db_path(&env).unwrap(),
                PathBuf::from("/home/u/.local/share/upsight/upsight.db")
            );
        }
        env.insert("XDG_DATA_HOME".into(), "/x".into());
        assert_eq!(
            default_db_path(&env).unwrap(),
            PathBuf::from("/x/upsight/upsight.db")
        );
        env.insert("UPSIGHT_CONFIG".into(), "/etc/u.toml".into());
        assert_eq!(
            default_config_path(&env).unwrap(),
            PathBuf::from("/etc/u.toml")
        );
    }

    /// A config file that is not TOML keeps the parser's error, with its position, as the
    /// source; a typo'd key and a value of the wrong kind say which key.
    #[test]
    fn config_file_errors_keep_their_cause() {
        let path = std::path::Path::new("/home/csm/.config/upsight/config.toml");
        let resolve = |text: &str| {
            Settings::resolve(&Layers {
                file: Some((path.to_path_buf(), text.to_owned())),
                ..layers()
            })
            .unwrap_err()
        };
        let broken = resolve("transport = \"rest\"\npush_delay_ms = = 3\n");
        let source = std::error::Error::source(&broken).expect("the cause is kept");
        assert!(
            source.downcast_ref::<ConfigProblem>().is_some(),
            "{source:?}"
        );
        let toml_error = std::error::Error::source(source).expect("toml's own error");
        assert!(toml_error.downcast_ref::<toml::de::Error>().is_some());
        assert!(broken.to_string().contains("line 2"), "{broken}");
        assert!(broken.to_string().contains("config.toml"), "{broken}");
        assert_eq!(broken.kind(), "config");
        assert_eq!(broken.exit_class(), crate::ExitClass::Usage);

        let typo = resolve("transprot = \"rest\"\n");
        assert!(
            typo.to_string().contains("unknown key `transprot`"),
            "{typo}"
        );
        let table = resolve("[transport]\nkind = \"rest\"\n");
        assert!(
            table
                .to_string()
                .contains("`transport` must be a string or a number, not table"),
            "{table}"
        );
    }
}
