//! Frames of the wire crate ([`apitoken_wire::frame`]) read and written on the daemon's
//! async sockets; the limits and the encoding stay in the wire crate.

use apitoken_wire::frame::{Frames, PREFIX_LEN};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use zeroize::Zeroizing;

/// Reads one frame, refusing a body over `frames.max` before reading it.
pub async fn read(
    stream: &mut (impl AsyncRead + Unpin),
    frames: Frames,
) -> std::io::Result<Zeroizing<Vec<u8>>> {
    let mut prefix = [0u8; PREFIX_LEN];
    stream.read_exact(&mut prefix).await?;
    let mut body = Zeroizing::new(vec![0u8; frames.len(prefix)?]);
    stream.read_exact(&mut body).await?;
    Ok(body)
}

/// Writes one frame.
pub async fn write(
    stream: &mut (impl AsyncWrite + Unpin),
    frames: Frames,
    body: &[u8],
) -> std::io::Result<()> {
    let frame = frames.encode(body)?;
    stream.write_all(&frame).await?;
    stream.flush().await
}
