//! Credentials, region and endpoint from flags, the standard AWS environment variables and the
//! shared `credentials` and `config` files — in that order, as the AWS tools do.

use crate::sigv4::Credentials;

/// The sections of a shared AWS file, each a list of `key = value` settings.
///
/// In `credentials` a section is `[name]`; in `config` it is `[profile name]`, except
/// `[default]`.
///
/// ```
/// use uptask_proto::s3::Profiles;
/// let config = Profiles::parse("[default]\nregion = eu-west-1\n[profile dev]\nregion=us-west-2\n", true);
/// assert_eq!(config.get("dev", "region"), Some("us-west-2"));
/// assert_eq!(config.get("default", "region"), Some("eu-west-1"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profiles {
    sections: Vec<(String, Vec<(String, String)>)>,
}

impl Profiles {
    /// Parses an INI-style shared file; `config` selects the `[profile name]` spelling.
    /// Comments (`#`, `;`), blank lines and nested (indented) settings are skipped.
    #[must_use]
    pub fn parse(text: &str, config: bool) -> Self {
        let mut sections: Vec<(String, Vec<(String, String)>)> = Vec::new();
        for raw in text.lines() {
            if raw.starts_with([' ', '\t']) {
                continue;
            }
            let line = raw.trim();
            if line.is_empty() || line.starts_with(['#', ';']) {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                let name = name.trim();
                let name = match (config, name.strip_prefix("profile ")) {
                    (true, Some(n)) => n.trim(),
                    _ => name,
                };
                sections.push((name.to_owned(), Vec::new()));
            } else if let (Some((key, value)), Some(section)) =
                (line.split_once('='), sections.last_mut())
            {
                section
                    .1
                    .push((key.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
        Self { sections }
    }

    /// A setting of a profile (the last one wins, as in the AWS tools).
    #[must_use]
    pub fn get(&self, profile: &str, key: &str) -> Option<&str> {
        self.sections
            .iter()
            .filter(|(name, _)| name == profile)
            .flat_map(|(_, settings)| settings.iter())
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .next_back()
            .filter(|v| !v.is_empty())
    }
}

/// What was given explicitly (command-line flags); each wins over the environment and files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// `--endpoint`.
    pub endpoint: Option<String>,
    /// `--region`.
    pub region: Option<String>,
    /// `--profile`.
    pub profile: Option<String>,
}

/// The settings an S3 upload runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Credentials, if any source had a complete pair.
    pub credentials: Option<Credentials>,
    /// The region (`us-east-1` when nothing says otherwise).
    pub region: String,
    /// The endpoint, if set anywhere (otherwise AWS's own for the region).
    pub endpoint: Option<String>,
    /// The profile that was read.
    pub profile: String,
}

/// Resolves credentials, region and endpoint: flags, then `AWS_*` variables (`env`), then the
/// shared `credentials` and `config` files (their text, if they exist).
///
/// ```
/// use uptask_proto::s3::{Settings, resolve};
/// let env = |k: &str| match k {
///     "AWS_ACCESS_KEY_ID" => Some("AKID".to_owned()),
///     "AWS_SECRET_ACCESS_KEY" => Some("s3cr3t".to_owned()),
///     "AWS_ENDPOINT_URL" => Some("http://127.0.0.1:8333".to_owned()),
///     _ => None,
/// };
/// let r = resolve(&Settings::default(), env, None, Some("[default]\nregion = eu-north-1\n"));
/// assert_eq!(r.credentials.unwrap().access_key_id, "AKID");
/// assert_eq!(r.region, "eu-north-1");
/// assert_eq!(r.endpoint.as_deref(), Some("http://127.0.0.1:8333"));
/// ```
#[must_use]
pub fn resolve(
    flags: &Settings,
    env: impl Fn(&str) -> Option<String>,
    credentials_file: Option<&str>,
    config_file: Option<&str>,
) -> Resolved {
    let env = |k: &str| env(k).filter(|v| !v.is_empty());
    let profile = flags
        .profile
        .clone()
        .or_else(|| env("AWS_PROFILE"))
        .unwrap_or_else(|| "default".to_owned());
    let creds_file = Profiles::parse(credentials_file.unwrap_or_default(), false);
    let config = Profiles::parse(config_file.unwrap_or_default(), true);
    let from_files = |key: &str| {
        creds_file
            .get(&profile, key)
            .or_else(|| config.get(&profile, key))
            .map(str::to_owned)
    };
    let credentials = match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret)) => Some(Credentials {
            access_key_id: id,
            secret_access_key: secret,
            session_token: env("AWS_SESSION_TOKEN"),
        }),
        _ => match (
            from_files("aws_access_key_id"),
            from_files("aws_secret_access_key"),
        ) {
            (Some(id), Some(secret)) => Some(Credentials {
                access_key_id: id,
                secret_access_key: secret,
                session_token: from_files("aws_session_token"),
            }),
            _ => None,
        },
    };
    let region = flags
        .region
        .clone()
        .or_else(|| env("AWS_REGION"))
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .or_else(|| config.get(&profile, "region").map(str::to_owned))
        .unwrap_or_else(|| "us-east-1".to_owned());
    let endpoint = flags
        .endpoint
        .clone()
        .or_else(|| env("AWS_ENDPOINT_URL_S3"))
        .or_else(|| env("AWS_ENDPOINT_URL"))
        .or_else(|| config.get(&profile, "endpoint_url").map(str::to_owned));
    Resolved {
        credentials,
        region,
        endpoint,
        profile,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREDS: &str = "# comment\n[default]\naws_access_key_id = AKDEF\naws_secret_access_key = sdef\n\n[dev]\naws_access_key_id=AKDEV\naws_secret_access_key=sdev\naws_session_token = tok\n";
    const CONFIG: &str = "[default]\nregion = eu-west-1\n[profile dev]\nregion = ap-south-1\nendpoint_url = http://dev.local:9000\ns3 =\n  addressing_style = path\n";

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn files_alone_by_profile() {
        let r = resolve(&Settings::default(), no_env, Some(CREDS), Some(CONFIG));
        assert_eq!(r.credentials.unwrap().access_key_id, "AKDEF");
        assert_eq!(r.region, "eu-west-1");
        assert_eq!(r.endpoint, None);
        let env = |k: &str| (k == "AWS_PROFILE").then(|| "dev".to_owned());
        let r = resolve(&Settings::default(), env, Some(CREDS), Some(CONFIG));
        let c = r.credentials.unwrap();
        assert_eq!(
            (c.access_key_id.as_str(), c.session_token.as_deref()),
            ("AKDEV", Some("tok"))
        );
        assert_eq!(r.region, "ap-south-1");
        assert_eq!(r.endpoint.as_deref(), Some("http://dev.local:9000"));
    }

    #[test]
    fn flags_beat_env_beat_files() {
        let env = |k: &str| match k {
            "AWS_REGION" => Some("us-west-1".to_owned()),
            "AWS_ACCESS_KEY_ID" => Some("AKENV".to_owned()),
            "AWS_SECRET_ACCESS_KEY" => Some("senv".to_owned()),
            "AWS_ENDPOINT_URL" => Some("http://env:1".to_owned()),
            _ => None,
        };
        let flags = Settings {
            endpoint: Some("http://flag:2".into()),
            region: Some("sa-east-1".into()),
            profile: None,
        };
        let r = resolve(&flags, env, Some(CREDS), Some(CONFIG));
        assert_eq!(r.credentials.unwrap().access_key_id, "AKENV");
        assert_eq!(r.region, "sa-east-1");
        assert_eq!(r.endpoint.as_deref(), Some("http://flag:2"));
        let r = resolve(&Settings::default(), env, Some(CREDS), Some(CONFIG));
        assert_eq!(r.region, "us-west-1");
        assert_eq!(r.endpoint.as_deref(), Some("http://env:1"));
    }

    #[test]
    fn half_a_key_pair_is_no_credentials() {
        let env = |k: &str| (k == "AWS_ACCESS_KEY_ID").then(|| "AK".to_owned());
        let r = resolve(&Settings::default(), env, None, None);
        assert_eq!(r.credentials, None);
        assert_eq!(r.region, "us-east-1");
    }
}
