//! The directive table: `redis.conf` names <-> [`Config`] fields, for config files,
//! `--directive value` arguments, CONFIG GET and CONFIG SET.

use crate::config::Config;

/// Applies one directive (`name` lower or upper case, `args` its values) to `config`.
///
/// Errors carry the text Redis would print for a bad directive.
pub fn apply_directive(config: &mut Config, name: &str, args: &[String]) -> Result<(), String> {
    let one = || -> Result<&String, String> {
        match args {
            [v] => Ok(v),
            _ => Err("wrong number of arguments".to_string()),
        }
    };
    match name.to_ascii_lowercase().as_str() {
        "port" => config.port = one()?.parse().map_err(|_| "Invalid port".to_string())?,
        "bind" => config.bind = args.to_vec(),
        "requirepass" => {
            let v = one()?;
            config.requirepass = if v.is_empty() {
                None
            } else {
                Some(v.clone().into_bytes())
            };
        }
        "databases" => {
            config.databases = one()?
                .parse()
                .map_err(|_| "Invalid number of databases".to_string())?
        }
        other => {
            return Err(format!(
                "Bad directive or wrong number of arguments ('{other}')"
            ))
        }
    }
    Ok(())
}

/// Splits a `redis.conf` text into (directive, arguments) lines, honouring quotes and comments.
pub fn parse_config_file(text: &str) -> Result<Vec<(String, Vec<String>)>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let args = rediscover::resp::split_args(line.as_bytes())
            .ok_or_else(|| format!("line {}: unbalanced quotes in configuration line", n + 1))?;
        let mut args = args
            .into_iter()
            .map(|a| String::from_utf8_lossy(&a).into_owned());
        if let Some(name) = args.next() {
            out.push((name.to_ascii_lowercase(), args.collect()));
        }
    }
    Ok(out)
}
