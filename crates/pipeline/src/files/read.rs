//! The one loop that reads a capture file into the engine (the summary, policy files, the
//! agent's sharded file workers) or the recorder (`pktvisor record`).

use crate::error::PipelineError;
use pv_capture::{FileFormat, FileReader, Packet, PacketReader};
use pv_wire::LinkType;
use std::path::Path;

/// Opens a capture file, or standard input for `-` (as tcpdump's `-r -`: `tcpdump -w - |
/// pktvisor summarize -`). A classic pcap has one link type for the whole file: it is refused
/// up front if we cannot decode it (pcapng interfaces are checked per packet and counted).
pub fn open_capture(path: &Path) -> Result<FileReader, PipelineError> {
    let reader = if path == Path::new("-") {
        FileReader::from_reader("-", Box::new(std::io::stdin()))?
    } else {
        FileReader::open(path)?
    };
    if matches!(reader.format(), FileFormat::Pcap)
        && let Some(lt) = reader.linktype()
        && LinkType::from_linktype(lt).is_none()
    {
        return Err(PipelineError::UnsupportedLinkType {
            path: path.display().to_string(),
            linktype: lt,
        });
    }
    Ok(reader)
}

/// Hands every packet of `reader` (a file's, or a shared file's cursor) to `each`, calling
/// `progress` with (bytes read, file size) every 65 536 packets and at the end. Returns the
/// damage that ended reading early (a cut or corrupt file: what came before it stands), None
/// when the file ended cleanly; an error from `each` ends the read
/// ([`PipelineError::Stopped`] when it asks to stop).
#[inline]
pub fn read_packets(
    reader: &mut impl PacketReader,
    progress: &mut dyn FnMut(u64, Option<u64>),
    mut each: impl FnMut(&Packet<'_>) -> Result<(), PipelineError>,
) -> Result<Option<String>, PipelineError> {
    read_tagged_packets(reader, progress, |p, _| each(p))
}

/// [`read_packets`] with each packet's tag from a shared file's tagger (None without one).
/// (Inlined: the per-packet call into the reader and the handlers then fold into one loop, as
/// when each caller wrote its own.)
#[inline]
pub fn read_tagged_packets(
    reader: &mut impl PacketReader,
    progress: &mut dyn FnMut(u64, Option<u64>),
    mut each: impl FnMut(&Packet<'_>, Option<u8>) -> Result<(), PipelineError>,
) -> Result<Option<String>, PipelineError> {
    let mut since_progress = 0u32;
    let damage = loop {
        match reader.next_tagged() {
            Ok(Some((p, tag))) => each(&p, tag)?,
            Ok(None) => break None,
            Err(e) => break Some(e.to_string()),
        }
        since_progress += 1;
        if since_progress == 1 << 16 {
            since_progress = 0;
            let (read, size) = reader.progress();
            progress(read, size);
        }
    };
    let (read, size) = reader.progress();
    progress(read, size);
    Ok(damage)
}
