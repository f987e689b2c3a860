//! pktvisor 4's `pktvisord` options that pktvisor v3's command line did not have, and the
//! `visor.config` keys of a `--config` file that set them (and the older ones: `port`, `host`,
//! `periods`, ...).
//!
//! Read from pktvisor's `cmd/pktvisord/main.cpp` (`USAGE`, `fill_cmd_options`, `main`): a
//! command-line option wins over the file's key, a flag is on when either turns it on, and
//! `--geo-city` > `geo_city` > `--default-geo-city` > `default_geo_city` (the same for the
//! ASN database and the port registry). The file's keys become options before clap parses
//! (only for options the command line does not give), so one parser checks both and an error
//! in the file is reported as the file's.

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

#[derive(Args, Clone, Debug, Default)]
#[command(next_help_heading = "pktvisor 4 options")]
pub struct VisorFlags {
    /// Verbose log output: the effective settings at start, and one line per API request
    /// (method, path, status, milliseconds) on stderr.
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,

    /// Daemonize: fork, continue in the background in a new session (stdin, stdout and
    /// stderr on /dev/null unless --log-file or --syslog), the parent exits 0 after printing
    /// the daemon's PID. Live capture or --nft-trace only. The working directory is kept, so
    /// relative paths (--record, --data-dir) mean what they meant.
    #[arg(short = 'd', long = "daemon")]
    pub daemon: bool,

    /// Append the log (everything pktvisord writes on stderr) to FILE instead.
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,

    /// Send the log to syslog (facility daemon, ident pktvisord, with the PID) instead of
    /// stderr. --log-file wins when both are given, as in pktvisor.
    #[arg(long)]
    pub syslog: bool,

    /// Accepted for pktvisor 4's command lines: this pktvisord never sends usage metrics.
    #[arg(long)]
    pub no_track: bool,

    /// Accepted for pktvisor 4's command lines: Prometheus output (/metrics) is always on.
    #[arg(long)]
    pub prometheus: bool,

    /// Serve the API over HTTPS (needs --tls-cert and --tls-key): TLS 1.2 and 1.3 by rustls.
    /// Clients: `pktvisor -H https://HOST:PORT`, `curl --cacert`.
    #[arg(long)]
    pub tls: bool,

    /// PEM certificate (chain) for --tls.
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key for --tls.
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,

    /// City database used when --geo-city (or `geo_city`) is not given.
    #[arg(long, value_name = "FILE")]
    pub default_geo_city: Option<PathBuf>,

    /// ASN database used when --geo-asn (or `geo_asn`) is not given.
    #[arg(long, value_name = "FILE")]
    pub default_geo_asn: Option<PathBuf>,

    /// Accepted for pktvisor 4's command lines (its LRU of lookups; 0 disabled it). Here every
    /// handler keeps a fixed cache of 4 096 addresses and 1 024 records a database, sized by
    /// measurement (docs/compatibility.md).
    #[arg(long, value_name = "N")]
    pub geo_cache_size: Option<u32>,

    /// Print the input and handler types this pktvisord has (what a policy's `input_type`
    /// and module `type` may name) and exit.
    #[arg(long)]
    pub module_list: bool,

    /// pktvisor loads plugin modules from DIR; every input and handler here is built in, so
    /// DIR is not read (a warning says so).
    #[arg(long, value_name = "DIR")]
    pub module_dir: Option<PathBuf>,

    /// IANA service name and port registry (CSV): the flow handler's top ports (and
    /// address:port, conversation texts) show service names from it, as pktvisor 4's do.
    #[arg(long, value_name = "FILE")]
    pub iana_service_port_registry: Option<PathBuf>,

    /// Registry used when --iana-service-port-registry is not given.
    #[arg(long, value_name = "FILE")]
    pub default_service_registry: Option<PathBuf>,

    /// OpenTelemetry export (OTLP over HTTP): not in this build; refused with a message
    /// rather than ignored. Scrape /metrics instead.
    #[arg(long)]
    pub otel: bool,

    #[arg(long, hide = true)]
    pub otel_tls: bool,
    #[arg(long, hide = true, value_name = "HOST")]
    pub otel_host: Option<String>,
    #[arg(long, hide = true, value_name = "PATH")]
    pub otel_path: Option<String>,
    #[arg(long, hide = true, value_name = "PORT")]
    pub otel_port: Option<u16>,
    #[arg(long, hide = true, value_name = "N")]
    pub otel_interval: Option<u32>,
    #[arg(long, hide = true, value_name = "FILE")]
    pub otel_tls_cert: Option<PathBuf>,
    #[arg(long, hide = true, value_name = "FILE")]
    pub otel_tls_key: Option<PathBuf>,

    /// pktvisor's crash reporting (Crashpad): not part of this pktvisord; the --cp-* options
    /// are accepted and ignored with a note.
    #[arg(long)]
    pub cp_disable: bool,
    #[arg(long, hide = true, value_name = "TOKEN")]
    pub cp_token: Option<String>,
    #[arg(long, hide = true, value_name = "URL")]
    pub cp_url: Option<String>,
    #[arg(long, hide = true, value_name = "USERDEF")]
    pub cp_custom: Option<String>,
    #[arg(long, hide = true, value_name = "PATH")]
    pub cp_path: Option<PathBuf>,
}

/// Whether a `visor.config` key is a flag (true/false) or takes a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Flag,
    Value,
}

/// `visor.config` key, the clap id of the option it sets, and that option's spelling. Every
/// key `fill_cmd_options` reads (the module ids are clap's: field names).
const KEYS: &[(&str, &str, &str, Kind)] = &[
    ("verbose", "verbose", "--verbose", Kind::Flag),
    ("daemon", "daemon", "--daemon", Kind::Flag),
    ("syslog", "syslog", "--syslog", Kind::Flag),
    ("no_track", "no_track", "--no-track", Kind::Flag),
    ("prometheus", "prometheus", "--prometheus", Kind::Flag),
    ("tls", "tls", "--tls", Kind::Flag),
    ("admin_api", "admin_api", "--admin-api", Kind::Flag),
    ("otel", "otel", "--otel", Kind::Flag),
    ("otel_tls", "otel_tls", "--otel-tls", Kind::Flag),
    ("module_list", "module_list", "--module-list", Kind::Flag),
    ("cp_disable", "cp_disable", "--cp-disable", Kind::Flag),
    ("log_file", "log_file", "--log-file", Kind::Value),
    (
        "prom_instance",
        "prom_instance",
        "--prom-instance",
        Kind::Value,
    ),
    ("geo_city", "geo_city", "--geo-city", Kind::Value),
    ("geo_asn", "geo_asn", "--geo-asn", Kind::Value),
    (
        "default_geo_city",
        "default_geo_city",
        "--default-geo-city",
        Kind::Value,
    ),
    (
        "default_geo_asn",
        "default_geo_asn",
        "--default-geo-asn",
        Kind::Value,
    ),
    (
        "geo_cache_size",
        "geo_cache_size",
        "--geo-cache-size",
        Kind::Value,
    ),
    (
        "max_deep_sample",
        "max_deep_sample",
        "--max-deep-sample",
        Kind::Value,
    ),
    ("periods", "periods", "--periods", Kind::Value),
    ("port", "port", "-p", Kind::Value),
    ("host", "host", "-l", Kind::Value),
    ("tls_cert", "tls_cert", "--tls-cert", Kind::Value),
    ("tls_key", "tls_key", "--tls-key", Kind::Value),
    ("otel_host", "otel_host", "--otel-host", Kind::Value),
    ("otel_path", "otel_path", "--otel-path", Kind::Value),
    ("otel_port", "otel_port", "--otel-port", Kind::Value),
    (
        "otel_interval",
        "otel_interval",
        "--otel-interval",
        Kind::Value,
    ),
    (
        "otel_tls_cert",
        "otel_tls_cert",
        "--otel-tls-cert",
        Kind::Value,
    ),
    (
        "otel_tls_key",
        "otel_tls_key",
        "--otel-tls-key",
        Kind::Value,
    ),
    ("module_dir", "module_dir", "--module-dir", Kind::Value),
    (
        "iana_service_port_registry",
        "iana_service_port_registry",
        "--iana-service-port-registry",
        Kind::Value,
    ),
    (
        "default_service_registry",
        "default_service_registry",
        "--default-service-registry",
        Kind::Value,
    ),
    ("cp_token", "cp_token", "--cp-token", Kind::Value),
    ("cp_url", "cp_url", "--cp-url", Kind::Value),
    ("cp_custom", "cp_custom", "--cp-custom", Kind::Value),
    ("cp_path", "cp_path", "--cp-path", Kind::Value),
];

/// The options a `visor.config` map adds to a command line that gave `given` (the ids clap
/// saw on the command line): `(options, warnings)`, or the first bad key with its line.
fn options_from(
    config: &pv_pipeline::pv_policy::Config,
    given: &dyn Fn(&str) -> bool,
) -> Result<(Vec<OsString>, Vec<String>), String> {
    let mut options = Vec::new();
    let mut warnings = Vec::new();
    for entry in config.iter() {
        let Some(&(_, id, flag, kind)) = KEYS.iter().find(|k| k.0 == entry.key) else {
            warnings.push(format!(
                "line {}: visor.config key '{}' is not a pktvisord option (ignored)",
                entry.line, entry.key
            ));
            continue;
        };
        if given(id) {
            continue;
        }
        use pv_pipeline::pv_policy::Value;
        match (kind, &entry.value) {
            (Kind::Flag, Value::Bool(on)) => {
                if *on {
                    options.push(OsString::from(flag));
                }
            }
            (Kind::Flag, _) => {
                return Err(format!(
                    "line {}: visor.config key '{}' must be true or false",
                    entry.line, entry.key
                ));
            }
            (Kind::Value, Value::Int(n)) => {
                options.push(OsString::from(flag));
                options.push(OsString::from(n.to_string()));
            }
            (Kind::Value, Value::Str(s)) => {
                options.push(OsString::from(flag));
                options.push(OsString::from(s));
            }
            (Kind::Value, _) => {
                return Err(format!(
                    "line {}: visor.config key '{}' must be a single value",
                    entry.line, entry.key
                ));
            }
        }
    }
    Ok((options, warnings))
}

/// Whether clap saw the option `id` on the command line itself (not a default).
fn given_on_command_line(matches: &ArgMatches, id: &str) -> bool {
    matches.value_source(id) == Some(ValueSource::CommandLine)
}

/// The command line to parse: `args` with the `visor.config` keys of its `--config` file put
/// in front (after the program name) for the options `args` does not give, and the warnings
/// to print. Without `--config`, or when the file does not load (its error is reported where
/// the file is used), `args` as they are.
pub fn with_config_file<C: CommandFactory>(
    args: Vec<OsString>,
) -> Result<(Vec<OsString>, Vec<String>), ConfigFileError> {
    let Ok(matches) = C::command().try_get_matches_from(&args) else {
        // The command line's own error is clap's to report.
        return Ok((args, Vec::new()));
    };
    let Some(path) = matches.try_get_one::<PathBuf>("config").ok().flatten() else {
        return Ok((args, Vec::new()));
    };
    let Ok(file) = pv_pipeline::load_policy_file(path) else {
        return Ok((args, Vec::new()));
    };
    let given = |id: &str| given_on_command_line(&matches, id);
    let (options, warnings) =
        options_from(&file.visor_config, &given).map_err(|message| ConfigFileError {
            file: path.clone(),
            message,
        })?;
    let warnings = warnings
        .into_iter()
        .map(|w| format!("{}: {w}", path.display()))
        .collect();
    if options.is_empty() {
        return Ok((args, warnings));
    }
    let mut merged = Vec::with_capacity(args.len() + options.len());
    let mut rest = args.into_iter();
    merged.extend(rest.next());
    merged.extend(options);
    merged.extend(rest);
    // A value clap refuses came from the file: say so.
    if let Err(e) = C::command().try_get_matches_from(&merged) {
        let text = e.to_string();
        let first = text
            .lines()
            .next()
            .unwrap_or("")
            .trim_start_matches("error: ");
        return Err(ConfigFileError {
            file: path.clone(),
            message: format!("visor.config: {first}"),
        });
    }
    Ok((merged, warnings))
}

/// A `visor.config` key that cannot be used.
#[derive(Debug)]
pub struct ConfigFileError {
    pub file: PathBuf,
    pub message: String,
}

impl std::fmt::Display for ConfigFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.message)
    }
}

/// A flag combination pktvisord cannot run.
#[derive(Debug, PartialEq, Eq)]
pub enum FlagError {
    /// pktvisor's own message (`main`): --tls without both files.
    TlsFiles,
    /// OTLP export is not in this build.
    Otel,
    /// -d with a capture file: its summary goes to stdout, which a daemon does not have.
    DaemonWithFile,
    /// A file named by an option cannot be read.
    Unreadable {
        option: &'static str,
        path: PathBuf,
        cause: String,
    },
}

impl std::fmt::Display for FlagError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FlagError::TlsFiles => f.write_str("you must specify --tls-key and --tls-cert to use --tls"),
            FlagError::Otel => f.write_str(
                "--otel (OpenTelemetry OTLP export) is not in this pktvisord; scrape /metrics (Prometheus) or push to a hub (--hub URL) instead",
            ),
            FlagError::DaemonWithFile => f.write_str(
                "-d runs a live agent in the background; a capture file's summary is printed on stdout, so run it in the foreground",
            ),
            FlagError::Unreadable { option, path, cause } => {
                write!(f, "{option} {}: {cause}", path.display())
            }
        }
    }
}

impl std::error::Error for FlagError {}

fn readable(option: &'static str, path: &Path) -> Result<(), FlagError> {
    std::fs::File::open(path)
        .map(drop)
        .map_err(|e| FlagError::Unreadable {
            option,
            path: path.to_path_buf(),
            cause: e.to_string(),
        })
}

impl VisorFlags {
    /// Checks what pktvisor checks before it starts; `file_target`: TARGET is a capture file.
    /// Returns notes to print (options accepted without effect here).
    pub fn check(&self, file_target: bool) -> Result<Vec<String>, FlagError> {
        if self.tls && (self.tls_cert.is_none() || self.tls_key.is_none()) {
            return Err(FlagError::TlsFiles);
        }
        if self.otel {
            return Err(FlagError::Otel);
        }
        if self.daemon && file_target {
            return Err(FlagError::DaemonWithFile);
        }
        let mut notes = Vec::new();
        if let Some(path) = self.port_registry() {
            // Read (and installed) by the agent before it starts: see `load_port_registry`.
            readable("--iana-service-port-registry", path)?;
        }
        if let Some(dir) = &self.module_dir {
            notes.push(format!(
                "--module-dir {}: every input and handler is built in; no modules are loaded",
                dir.display()
            ));
        }
        if self.cp_token.is_some() || self.cp_url.is_some() || self.cp_path.is_some() {
            notes.push(
                "--cp-* (Crashpad crash reporting) is not part of this pktvisord; ignored".into(),
            );
        }
        Ok(notes)
    }

    /// `--tls`: the server configuration from `--tls-cert` and `--tls-key` (PEM), as the hub
    /// reads them; None without `--tls` (pktvisor ignores the files then too).
    pub fn tls_config(
        &self,
    ) -> Result<Option<std::sync::Arc<pv_http::tls::ServerConfig>>, pv_http::tls::TlsError> {
        match (self.tls, &self.tls_cert, &self.tls_key) {
            (true, Some(cert), Some(key)) => pv_http::tls::server_config(cert, key).map(Some),
            _ => Ok(None),
        }
    }

    /// Loads `--iana-service-port-registry` (else `--default-service-registry`) and makes it
    /// the flow handler's, as pktvisor's `IpPort::set_csv_iana_ports` at start.
    pub fn load_port_registry(&self) -> Result<(), String> {
        let Some(path) = self.port_registry() else {
            return Ok(());
        };
        let registry = pv_handlers::flow::ports::PortRegistry::load(path)
            .map_err(|e| format!("--iana-service-port-registry {}: {e}", path.display()))?;
        pv_handlers::flow::ports::install(registry);
        Ok(())
    }

    /// `--iana-service-port-registry`, else `--default-service-registry`.
    pub fn port_registry(&self) -> Option<&Path> {
        self.iana_service_port_registry
            .as_deref()
            .or(self.default_service_registry.as_deref())
    }

    /// The geo databases after pktvisor's fallbacks: the given one, else the default one.
    pub fn fill_geo(&self, city: &mut Option<PathBuf>, asn: &mut Option<PathBuf>) {
        if city.is_none() {
            city.clone_from(&self.default_geo_city);
        }
        if asn.is_none() {
            asn.clone_from(&self.default_geo_asn);
        }
    }
}

/// `--module-list`: what a policy may name, one line each (pktvisor prints its plugins'
/// names, `input: VisorInputPcap`; the types are what a policy file uses).
pub fn module_list() -> Vec<String> {
    let catalog = pv_pipeline::catalog();
    let inputs = catalog.input_types.iter().map(|t| format!("input: {t}"));
    let handlers = catalog
        .handlers
        .iter()
        .map(|h| format!("handler: {} (version {})", h.type_name, h.version));
    inputs.chain(handlers).collect()
}

#[cfg(test)]
#[path = "visor_flags_tests.rs"]
mod tests;
