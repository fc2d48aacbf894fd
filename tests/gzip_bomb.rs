//! A gzip bomb behind a valid MNIST header: `train-images-idx3-ubyte.gz` declares 60,000 images
//! of 28×28 (47,040,000 bytes) and decompresses to more than 4 GiB. The `initlab` binary must
//! refuse it, naming the file, having decompressed little more than the declared size.
//!
//! (Alone in its test binary, so that the child measured is the only one.)

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Instant;

use common::*;
use flate2::{Compress, Compression, Crc, FlushCompress};

/// One MiB.
const MIB: usize = 1 << 20;

/// Raw deflate of `input` ending with `flush`. After a full flush the output is byte-aligned and
/// refers to nothing before it, so copies of it can follow one another in one stream.
fn deflate_flushed(c: &mut Compress, input: &[u8], flush: FlushCompress) -> Vec<u8> {
    let mut out = Vec::new();
    let start = c.total_in();
    loop {
        out.reserve(input.len() + 4096);
        let consumed = (c.total_in() - start) as usize;
        c.compress_vec(&input[consumed..], &mut out, flush).unwrap();
        // Done when all input is in and the output did not fill the room it had (so the flush
        // is complete).
        if (c.total_in() - start) as usize == input.len() && out.len() < out.capacity() {
            return out;
        }
    }
}

/// A single-member gzip file whose content is `header` followed by `mib_of_zeros` MiB of zeros,
/// built from one compressed MiB repeated (the content's CRC is combined, not computed over it).
fn gzip_bomb(header: &[u8], mib_of_zeros: usize) -> Vec<u8> {
    let mut c = Compress::new(Compression::best(), false);
    let head = deflate_flushed(&mut c, header, FlushCompress::Full);
    let zeros = vec![0u8; MIB];
    let block = deflate_flushed(&mut c, &zeros, FlushCompress::Full);
    // After a full flush the compressor starts afresh: the same input gives the same bytes.
    assert_eq!(deflate_flushed(&mut c, &zeros, FlushCompress::Full), block);
    let tail = deflate_flushed(&mut c, &[], FlushCompress::Finish);

    let mut crc = Crc::new();
    crc.update(header);
    let mut zero_crc = Crc::new();
    zero_crc.update(&zeros);
    for _ in 0..mib_of_zeros {
        crc.combine(&zero_crc);
    }
    let size = header.len() as u64 + (mib_of_zeros * MIB) as u64;

    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    out.extend_from_slice(&head);
    for _ in 0..mib_of_zeros {
        out.extend_from_slice(&block);
    }
    out.extend_from_slice(&tail);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    // ISIZE: the content's length modulo 2^32.
    out.extend_from_slice(&(size as u32).to_le_bytes());
    out
}

/// Runs `cmd` and returns its exit status, stderr and peak resident memory in KiB (`wait4`).
// The child is reaped by `wait4`, which `Child::wait` cannot do while reporting its rusage.
#[allow(clippy::zombie_processes)]
fn run_measured(cmd: &mut Command) -> (i32, String, i64) {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, with valid pointers to locals.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t, "wait4 failed");
    assert!(
        libc::WIFEXITED(status),
        "the child did not exit normally: {status:#x}"
    );
    // ru_maxrss is in KiB on Linux.
    (libc::WEXITSTATUS(status), stderr, usage.ru_maxrss)
}

#[test]
fn the_construction_is_one_valid_gzip_member() {
    let header = idx_bytes(0x803, &[3, 4, 5], &[]);
    let bytes = gzip_bomb(&header, 3);
    // The single-member decoder checks the CRC and length and sees all of the content.
    let mut content = Vec::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_end(&mut content)
        .unwrap();
    assert_eq!(content.len(), header.len() + 3 * MIB);
    assert_eq!(&content[..header.len()], &header[..]);
    assert!(content[header.len()..].iter().all(|&b| b == 0));
}

#[test]
fn a_4_gib_gzip_bomb_is_refused_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    write_subset(dir.path(), 100, 20, true);
    let started = Instant::now();
    let header = idx_bytes(0x803, &[60_000, 28, 28], &[]);
    let bomb = gzip_bomb(&header, 4096);
    let path = dir.path().join("train-images-idx3-ubyte.gz");
    std::fs::write(&path, &bomb).unwrap();
    eprintln!(
        "bomb: {} bytes on disk, {} decompressed, made in {:.2} s",
        bomb.len(),
        header.len() + 4096 * MIB,
        started.elapsed().as_secs_f64()
    );
    let runs = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let (code, stderr, max_rss_kib) = run_measured(
        Command::new(env!("CARGO_BIN_EXE_initlab"))
            .arg("train")
            .arg("--data-dir")
            .arg(dir.path())
            .args(["--epochs", "1", "--train-limit", "100", "--out"])
            .arg(runs.path()),
    );
    eprintln!(
        "initlab exited with {code} after {:.2} s, peak RSS {:.1} MiB; stderr: {stderr}",
        started.elapsed().as_secs_f64(),
        max_rss_kib as f64 / 1024.0
    );
    assert_ne!(code, 0, "the bomb was accepted: {stderr}");
    assert!(
        stderr.contains(&path.display().to_string()) && stderr.contains("trailing data"),
        "{stderr}"
    );
    assert!(
        max_rss_kib < 600 * 1024,
        "peak RSS {max_rss_kib} KiB, more than 600 MiB"
    );
}

/// The bomb's cost does not depend on where it sits: the same for the labels file.
#[test]
fn a_label_bomb_is_refused_too() {
    let dir = tempfile::tempdir().unwrap();
    write_subset(dir.path(), 100, 20, true);
    let header = idx_bytes(0x801, &[100], &[]);
    let path = dir.path().join("train-labels-idx1-ubyte.gz");
    std::fs::write(&path, gzip_bomb(&header, 64)).unwrap();
    let e = format!(
        "{:#}",
        initlab::base::data::mnist::load_dir(dir.path()).unwrap_err()
    );
    assert!(
        e.contains(&path.display().to_string()) && e.contains("trailing data"),
        "{e}"
    );
}
