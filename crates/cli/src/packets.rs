//! `pktvisor packets PATH [FILTER]`: the packets of every capture file below PATH (a
//! recording directory, or files made elsewhere) that match a tcpdump filter and a time range,
//! in time order: counted, written as one pcap file (`-` for stdout, so `| tcpdump -r -` and
//! `| wireshark -k -i -` work), or one JSON line per packet.

use pv_record::PcapFormat;
use pv_search::index::TCP_FLAGS;
use pv_search::time::{format_time, parse_time};
use pv_search::{FilesSummary, OwnedPacket, Search, SearchError, pcap_format, scan};
use pv_wire::{L3, L4, LinkType, decode};
use serde_json::json;
use std::io::{BufWriter, ErrorKind, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct PacketsCmd {
    /// A recording directory (searched recursively), or one capture file. Files: .pcap,
    /// .pcapng, .cap, optionally .gz or .zst, and the recorder's unfinished .tmp.
    #[arg(value_name = "PATH")]
    pub path: PathBuf,

    /// A tcpdump filter expression (`host 198.51.100.7 and tcp port 443`), with application
    /// fields too: `dns.qname ~ ".example"` (suffix), `dns.qname == "a.example"`,
    /// `dns.rcode == NXDOMAIN`, `dns.qtype == AAAA`, `http.host == "x"`, `http.method == GET`,
    /// `http.user_agent ~ "curl"` (substring), `tls.sni == "x"`, `appproto == TLS`, joined by
    /// and/or/not and parentheses. Several words are joined as tcpdump joins them. None: every
    /// packet.
    #[arg(value_name = "FILTER")]
    pub filter: Vec<String>,

    /// Packets at or after this time: RFC 3339 (2026-12-07T01:00:00Z, offsets and fractions
    /// too) or Unix seconds.
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,

    /// Packets before this time (same forms as --from).
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,

    /// Print only how many packets match.
    #[arg(long, conflicts_with_all = ["pcap", "json"])]
    pub count: bool,

    /// Write the matching packets as one pcap file (`-`: stdout).
    #[arg(long, value_name = "OUT", conflicts_with = "json")]
    pub pcap: Option<PathBuf>,

    /// One JSON object per line and packet: time, lengths, addresses, ports, TCP flags
    /// (the default output).
    #[arg(long)]
    pub json: bool,

    /// Stop after N matching packets.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
}

/// What the command writes each match as.
enum Out {
    Count,
    Pcap {
        out: Box<dyn Write>,
        /// Set when the file's header is written, at the first match (or at the end, for an
        /// output with no packet: still a valid pcap file, as tcpdump writes one).
        format: Option<PcapFormat>,
    },
    Json(Box<dyn Write>),
}

/// Why the command stopped: the search's own errors, or the output's.
enum Failure {
    Search(SearchError),
    Write(std::io::Error),
}

impl From<SearchError> for Failure {
    fn from(e: SearchError) -> Self {
        Failure::Search(e)
    }
}

pub fn run(program: &str, cmd: &PacketsCmd) -> ExitCode {
    let usage = |e: SearchError| {
        eprintln!("{program}: error: {e}");
        // Like a usage error: the filter or a time as given cannot be used.
        ExitCode::from(2)
    };
    let time = |t: &Option<String>| t.as_deref().map(parse_time).transpose();
    let (from, to) = match (time(&cmd.from), time(&cmd.to)) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return usage(e),
    };
    let filter = cmd.filter.join(" ");
    let mut search = match Search::new(Some(&filter), from, to, cmd.limit) {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    let stdout = || Box::new(BufWriter::new(std::io::stdout())) as Box<dyn Write>;
    let mut out = if cmd.count {
        Out::Count
    } else if let Some(path) = &cmd.pcap {
        let out = if path.as_os_str() == "-" {
            stdout()
        } else {
            match std::fs::File::create(path) {
                Ok(f) => Box::new(BufWriter::new(f)) as Box<dyn Write>,
                Err(e) => {
                    eprintln!("{program}: error: {}: cannot create: {e}", path.display());
                    return ExitCode::FAILURE;
                }
            }
        };
        Out::Pcap { out, format: None }
    } else {
        Out::Json(stdout())
    };
    let result = search_into(&cmd.path, &mut search, &mut out);
    let flushed = match &mut out {
        Out::Pcap { out, .. } | Out::Json(out) => out.flush(),
        Out::Count => Ok(()),
    };
    match result.and_then(|stats| flushed.map(|()| stats).map_err(Failure::Write)) {
        Ok(stats) => {
            for w in &stats.warnings {
                eprintln!("{program}: warning: {w}");
            }
            if cmd.count {
                println!("{}", stats.matched);
            }
            eprintln!(
                "{program}: {} of {} packets matched, in {} files ({} not opened: their \
                 catalogue says nothing in them can match)",
                stats.matched, stats.packets_read, stats.files.files, stats.files_skipped
            );
            ExitCode::SUCCESS
        }
        // The reader went away (`| head`, `| tcpdump -c 10`): it got what it asked for.
        Err(Failure::Write(e)) if e.kind() == ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Failure::Write(e)) => {
            eprintln!("{program}: error: writing output: {e}");
            ExitCode::FAILURE
        }
        Err(Failure::Search(e @ (SearchError::Bpf(_) | SearchError::Filter { .. }))) => usage(e),
        Err(Failure::Search(e)) => {
            eprintln!("{program}: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn search_into(
    path: &std::path::Path,
    search: &mut Search,
    out: &mut Out,
) -> Result<pv_search::ScanStats, Failure> {
    let mut write_error = None;
    let stats = scan(path, search, |files, p| match write(out, files, p) {
        Ok(()) => Ok(true),
        Err(Failure::Write(e)) => {
            write_error = Some(e);
            Ok(false)
        }
        Err(Failure::Search(e)) => Err(e),
    })?;
    if let Some(e) = write_error {
        return Err(Failure::Write(e));
    }
    if let Out::Pcap { out, format } = out
        && format.is_none()
    {
        let f = pcap_format(&stats.files)?;
        out.write_all(&f.global_header()).map_err(Failure::Write)?;
    }
    Ok(stats)
}

fn write(out: &mut Out, files: &FilesSummary, p: &OwnedPacket) -> Result<(), Failure> {
    match out {
        Out::Count => Ok(()),
        Out::Pcap { out, format } => {
            let f = match format {
                Some(f) => *f,
                None => {
                    let f = pcap_format(files)?;
                    out.write_all(&f.global_header()).map_err(Failure::Write)?;
                    *format = Some(f);
                    f
                }
            };
            f.write_record(out, p.ts_ns, p.orig_len, &p.data)
                .map(|_| ())
                .map_err(Failure::Write)
        }
        Out::Json(out) => writeln!(out, "{}", json_line(p)).map_err(Failure::Write),
    }
}

/// One packet as a JSON object: what `tcpdump -nn` shows of it, as fields.
fn json_line(p: &OwnedPacket) -> serde_json::Value {
    let mut v = json!({
        "time": format_time(p.ts_ns),
        "len": p.orig_len,
        "caplen": p.data.len(),
    });
    let Some(link) = LinkType::from_linktype(p.linktype) else {
        v["linktype"] = json!(p.linktype);
        return v;
    };
    let d = decode(link, &p.data);
    if let Some(vlan) = d.vlan {
        v["vlan"] = json!(vlan);
    }
    match d.l3 {
        L3::Ipv4 => v["ip"] = json!(4),
        L3::Ipv6 => v["ip"] = json!(6),
        L3::None => return v,
    }
    v["src"] = json!(d.src.to_string());
    v["dst"] = json!(d.dst.to_string());
    let proto = match d.l4 {
        L4::Tcp => "tcp".to_string(),
        L4::Udp => "udp".to_string(),
        L4::Other(1) => "icmp".to_string(),
        L4::Other(58) => "icmp6".to_string(),
        L4::Other(n) => n.to_string(),
        L4::None => return v,
    };
    v["proto"] = json!(proto);
    if matches!(d.l4, L4::Tcp | L4::Udp) && (d.src_port != 0 || d.dst_port != 0) {
        v["sport"] = json!(d.src_port);
        v["dport"] = json!(d.dst_port);
    }
    if d.l4 == L4::Tcp {
        let flags: Vec<&str> = TCP_FLAGS
            .iter()
            .filter(|(bit, _)| d.tcp_flags & bit != 0)
            .map(|(_, n)| *n)
            .collect();
        v["tcp_flags"] = json!(flags);
    }
    v
}
