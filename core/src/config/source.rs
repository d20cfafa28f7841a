//! Where raw values come from: the variables over the keys of the optional file, and the record of
//! every setting the typed configuration read, with its default. That record is the list of
//! known settings: the file's keys are checked against it and the README's tables are tested
//! against it, so no list of names is kept by hand next to the code that reads them.

use std::{
    cell::RefCell,
    collections::HashMap,
    fmt,
    path::{Path, PathBuf},
    str::FromStr,
};

use secrecy::SecretString;

use super::ConfigError;

/// The variable that names the optional TOML file.
pub const CONFIG_FILE: &str = "SHOP_CONFIG_FILE";

/// Variables read without the `SHOP_` prefix, by convention.
const UNPREFIXED: &[&str] = &["DATABASE_URL", "REDIS_URL", "AMQP_URL"];

/// One setting the typed configuration reads: its variable and its default, as documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    pub name: &'static str,
    pub default: SettingDefault,
}

/// A setting's default, as the README's tables show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingDefault {
    /// This value is parsed when the setting is not given (shown in backticks).
    Value(&'static str),
    /// No value: the feature it configures is off or uses its fallback (shown as `unset`).
    Unset,
    /// An empty list (shown as `empty`).
    Empty,
    /// A default that depends on other settings, in the README's words.
    Described(&'static str),
}

impl Setting {
    /// The default as a cell of the README's tables.
    pub fn documented_default(&self) -> String {
        match self.default {
            SettingDefault::Value(value) => format!("`{value}`"),
            SettingDefault::Unset => "unset".to_owned(),
            SettingDefault::Empty => "empty".to_owned(),
            SettingDefault::Described(text) => text.to_owned(),
        }
    }

    /// Its key in the optional file: the variable in lower case without the `SHOP_` prefix.
    pub fn file_key(&self) -> String {
        file_key(self.name)
    }
}

/// Variables from the environment over keys from the optional file, recording what is read.
#[derive(Debug, Default)]
pub(crate) struct Source {
    env: HashMap<String, String>,
    file: HashMap<String, String>,
    file_path: Option<PathBuf>,
    read: RefCell<Vec<Setting>>,
}

impl Source {
    pub(crate) fn new(env: HashMap<String, String>) -> Result<Self, ConfigError> {
        let source = Self {
            env,
            ..Self::default()
        };
        let Some(path) = source
            .env
            .get(CONFIG_FILE)
            .filter(|path| !path.is_empty())
            .map(PathBuf::from)
        else {
            return Ok(source);
        };
        let file = read_file(&path)?;
        Ok(Self {
            file,
            file_path: Some(path),
            ..source
        })
    }

    /// Every setting read so far, in order, once each.
    pub(crate) fn into_settings(self) -> Vec<Setting> {
        self.read.into_inner()
    }

    /// Fails on a file key that names no setting in `known` (a typo must not pass silently).
    pub(crate) fn reject_unknown_keys(&self, known: &[Setting]) -> Result<(), ConfigError> {
        let Some(path) = &self.file_path else {
            return Ok(());
        };
        let mut unknown: Vec<&String> = self
            .file
            .keys()
            .filter(|name| {
                name.as_str() == CONFIG_FILE || !known.iter().any(|setting| setting.name == *name)
            })
            .collect();
        unknown.sort();
        match unknown.first() {
            None => Ok(()),
            Some(name) => Err(ConfigError {
                origin: CONFIG_FILE.into(),
                message: format!("{}: unknown key `{}`", path.display(), file_key(name)),
            }),
        }
    }

    fn record(&self, name: &'static str, default: SettingDefault) {
        let mut read = self.read.borrow_mut();
        if !read.iter().any(|setting| setting.name == name) {
            read.push(Setting { name, default });
        }
    }

    /// The raw value and where it came from; `None` when unset (an empty or blank value counts as
    /// unset).
    pub(crate) fn get(
        &self,
        name: &'static str,
        default: SettingDefault,
    ) -> Option<(String, String)> {
        self.record(name, default);
        if let Some(value) = self.env.get(name).filter(|value| !value.trim().is_empty()) {
            return Some((value.clone(), name.to_owned()));
        }
        self.file
            .get(name)
            .filter(|value| !value.trim().is_empty())
            .map(|value| (value.clone(), self.origin(name)))
    }

    /// The variable, or the variable, key and file when the value came from the file.
    pub(crate) fn origin(&self, name: &str) -> String {
        match &self.file_path {
            Some(path) if !self.env.contains_key(name) && self.file.contains_key(name) => {
                format!("{} (key `{}` in {})", name, file_key(name), path.display())
            }
            _ => name.to_owned(),
        }
    }

    /// The value, or the default's text.
    pub(crate) fn string(&self, name: &'static str, default: &'static str) -> (String, String) {
        self.get(name, SettingDefault::Value(default))
            .unwrap_or_else(|| (default.to_owned(), name.to_owned()))
    }

    /// The value if set.
    pub(crate) fn optional(&self, name: &'static str) -> Option<String> {
        self.get(name, SettingDefault::Unset)
            .map(|(value, _)| value)
    }

    /// Comma-separated values, trimmed, blanks dropped; with where they came from.
    pub(crate) fn list(&self, name: &'static str) -> (Vec<String>, String) {
        let (raw, origin) = self
            .get(name, SettingDefault::Empty)
            .unwrap_or_else(|| (String::new(), name.to_owned()));
        let items = raw
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect();
        (items, origin)
    }

    pub(crate) fn parse<T: FromStr>(
        &self,
        name: &'static str,
        default: &'static str,
    ) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        let (raw, origin) = self.string(name, default);
        parse_raw(&raw, origin)
    }

    /// Like [`parse`](Self::parse), with a default that depends on other settings.
    pub(crate) fn parse_or<T: FromStr>(
        &self,
        name: &'static str,
        default: SettingDefault,
        fallback: T,
    ) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        match self.get(name, default) {
            None => Ok(fallback),
            Some((raw, origin)) => parse_raw(&raw, origin),
        }
    }

    pub(crate) fn parse_in<T: FromStr + PartialOrd + fmt::Display>(
        &self,
        name: &'static str,
        default: &'static str,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        let value: T = self.parse(name, default)?;
        if range.contains(&value) {
            Ok(value)
        } else {
            Err(ConfigError {
                origin: self.origin(name),
                message: format!("must be between {} and {}", range.start(), range.end()),
            })
        }
    }

    pub(crate) fn url(
        &self,
        name: &'static str,
        default: SettingDefault,
        schemes: &[&str],
    ) -> Result<Option<SecretString>, ConfigError> {
        match self.get(name, default) {
            None => Ok(None),
            Some((raw, _)) if schemes.iter().any(|scheme| raw.starts_with(scheme)) => {
                Ok(Some(SecretString::from(raw)))
            }
            Some((_, origin)) => Err(ConfigError {
                origin,
                message: format!("must start with {}", schemes.join(" or ")),
            }),
        }
    }

    pub(crate) fn secret(
        &self,
        name: &'static str,
        default: SettingDefault,
        min_length: usize,
    ) -> Result<Option<SecretString>, ConfigError> {
        match self.get(name, default) {
            None => Ok(None),
            Some((raw, _)) if raw.len() >= min_length => Ok(Some(SecretString::from(raw))),
            Some((_, origin)) => Err(ConfigError {
                origin,
                message: format!("must be at least {min_length} bytes"),
            }),
        }
    }
}

fn parse_raw<T: FromStr>(raw: &str, origin: String) -> Result<T, ConfigError>
where
    T::Err: fmt::Display,
{
    raw.trim().parse().map_err(|error| ConfigError {
        origin,
        message: format!("invalid value {raw:?}: {error}"),
    })
}

/// The file's keys, as variable names, with their values as text.
fn read_file(path: &Path) -> Result<HashMap<String, String>, ConfigError> {
    let error = |message: String| ConfigError {
        origin: CONFIG_FILE.into(),
        message,
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| error(format!("cannot read {}: {e}", path.display())))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| error(format!("{} is not valid TOML: {e}", path.display())))?;
    let mut file = HashMap::new();
    for (key, value) in table {
        let value = match value {
            toml::Value::String(text) => text,
            toml::Value::Integer(_) | toml::Value::Boolean(_) => value.to_string(),
            _ => {
                return Err(error(format!(
                    "{}: `{key}` must be a string, number or boolean",
                    path.display()
                )));
            }
        };
        file.insert(variable_name(&key), value);
    }
    Ok(file)
}

fn variable_name(file_key: &str) -> String {
    let upper = file_key.to_ascii_uppercase();
    if UNPREFIXED.contains(&upper.as_str()) {
        upper
    } else {
        format!("SHOP_{upper}")
    }
}

fn file_key(name: &str) -> String {
    name.strip_prefix("SHOP_")
        .unwrap_or(name)
        .to_ascii_lowercase()
}
