//! TensorBoard event files, written and read back without TensorFlow or a protobuf library.
//!
//! # Format
//!
//! An event file (`events.out.tfevents.<unix seconds>.<hostname>`) is a sequence of records, each
//!
//! | bytes | what |
//! |---|---|
//! | 8 | `length` of the data, u64 little-endian |
//! | 4 | masked CRC32C of those 8 bytes, u32 little-endian |
//! | `length` | the data: one serialized `Event` protobuf |
//! | 4 | masked CRC32C of the data, u32 little-endian |
//!
//! where masking is `((crc >> 15) | (crc << 17)) + 0xa282ead8` (mod 2³²) — TensorFlow's
//! `tensorflow/core/lib/io/record_writer.cc` and `tsl/lib/hash/crc32c.h` (`Mask`), read by
//! TensorBoard's `tensorboard/compat/tensorflow_stub/pywrap_tensorflow.py` (`PyRecordReader`).
//! The first record is an `Event` whose `file_version` is [`FILE_VERSION`].
//!
//! The protobuf messages, from `tensorflow/core/util/event.proto` and
//! `tensorflow/core/framework/summary.proto` (only the fields used here):
//!
//! ```text
//! Event          { double wall_time = 1; int64 step = 2;
//!                  oneof what { string file_version = 3; Summary summary = 5;
//!                               SessionLog session_log = 7; … } }
//! SessionLog     { SessionStatus status = 1; … }   // enum SessionStatus { …, START = 1, … }
//! Summary        { repeated Value value = 1; }
//! Summary.Value  { string tag = 1;
//!                  oneof value { float simple_value = 2; HistogramProto histo = 5; … } }
//! HistogramProto { double min = 1; double max = 2; double num = 3; double sum = 4;
//!                  double sum_squares = 5;
//!                  repeated double bucket_limit = 6 [packed = true];
//!                  repeated double bucket = 7 [packed = true]; }
//! ```
//!
//! They are encoded by hand: varint keys `field << 3 | wire type`, varints (wire type 0) for
//! `int64`, little-endian 8 bytes (wire type 1) for `double`, 4 bytes (wire type 5) for `float`,
//! length-delimited (wire type 2) for strings, messages and packed repeated doubles. Members of a
//! `oneof` are always written, even when zero. A file written by TensorBoard 2.21's own writer
//! (`tests/golden/tensorboard/`) reads back here, and its events re-encode to the same bytes.
//!
//! TensorBoard reads every event file of a directory (`tensorboard --logdir DIR` walks the
//! sub-directories: one run per directory), in file-name order. A `SessionLog` START event at
//! step `s` marks a restart: TensorBoard's loader (`event_accumulator.py`,
//! `_CheckForRestartAndMaybePurge`) then drops every point of step `s` or later read so far — the
//! points an interrupted program wrote after the state it restarted from. (For files of version 2
//! that is its only purge: points written again at the same step are otherwise kept twice.)
//!
//! [`read_events`] reads a file back, checking both checksums of every record, and decodes the
//! fields above (a value of any other kind reads as [`ValueData::Other`]); a truncated or damaged
//! file is an [`EventFileError`] naming the file and the byte offset.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use crate::base::switches::Switches;

/// The `file_version` of the first event of every file.
pub const FILE_VERSION: &str = "brain.Event:2";

/// Buckets of a [`Histogram::of`] (TensorBoard's `histogram` summary makes 30 by default).
pub const DEFAULT_BINS: usize = 30;

/// Largest event file [`read_events`] reads (a run of 100 epochs of the deep net, with a loss per
/// step and dynamics every step, stays far below).
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// Added to the rotated CRC by [`masked_crc32c`].
const MASK_DELTA: u32 = 0xa282_ead8;

/// Bytes of a record around its data: length, its CRC, the data's CRC.
const RECORD_OVERHEAD: usize = 16;

/// `SessionLog.SessionStatus.START`.
const SESSION_START: i64 = 1;

/// Protobuf wire types.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

/// One event of a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Seconds since the Unix epoch when it was written.
    pub wall_time: f64,
    /// The step it belongs to (the x axis of TensorBoard's charts).
    pub step: i64,
    /// What it says.
    pub what: What,
}

/// What an [`Event`] says (the `oneof what` of `event.proto`).
#[derive(Debug, Clone, PartialEq)]
pub enum What {
    /// The file's version, in the first event of a file ([`FILE_VERSION`]).
    FileVersion(String),
    /// A summary: tagged values.
    Summary(Vec<Value>),
    /// A `SessionLog` START: the program restarted at this step (see the module's notes).
    SessionStart,
    /// Something this module does not decode (a graph, another session status, nothing).
    Other,
}

impl Event {
    /// The summary's values (empty for an event without a summary).
    pub fn values(&self) -> &[Value] {
        match &self.what {
            What::Summary(v) => v,
            _ => &[],
        }
    }

    /// The file version, for a file-version event.
    pub fn file_version(&self) -> Option<&str> {
        match &self.what {
            What::FileVersion(v) => Some(v),
            _ => None,
        }
    }
}

/// One tagged value of a summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    /// Its name, `/`-separated groups first (`epoch/test_loss`).
    pub tag: String,
    /// What it holds.
    pub data: ValueData,
}

/// What a [`Value`] holds.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueData {
    /// A scalar (`simple_value`: an `f32`).
    Scalar(f32),
    /// A histogram (`histo`).
    Histogram(Histogram),
    /// A kind this module does not decode (images, audio, tensors).
    Other,
}

/// A `HistogramProto`: bucket `i` counts the values in `(bucket_limit[i − 1], bucket_limit[i]]`
/// (the first from `min`); TensorBoard draws the last bucket up to `max`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Histogram {
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Number of values.
    pub num: f64,
    /// Their sum.
    pub sum: f64,
    /// The sum of their squares.
    pub sum_squares: f64,
    /// Right edge of each bucket, increasing.
    pub bucket_limit: Vec<f64>,
    /// Count of each bucket.
    pub bucket: Vec<f64>,
}

impl Histogram {
    /// The histogram of the finite `values` in `bins` equal buckets from their minimum to their
    /// maximum (one bucket when they are all equal, none when there are no finite values). NaN and
    /// infinite values are left out: `num` counts the finite ones.
    pub fn of(values: &[f32], bins: usize) -> Histogram {
        let finite = || {
            values
                .iter()
                .map(|&v| f64::from(v))
                .filter(|v| v.is_finite())
        };
        let (mut h, mut any) = (Histogram::default(), false);
        for v in finite() {
            if !any {
                (h.min, h.max, any) = (v, v, true);
            }
            h.min = h.min.min(v);
            h.max = h.max.max(v);
            h.num += 1.0;
            h.sum += v;
            h.sum_squares += v * v;
        }
        if !any || bins == 0 {
            return h;
        }
        let bins = if h.max > h.min { bins } else { 1 };
        let width = (h.max - h.min) / bins as f64;
        h.bucket_limit = (1..=bins).map(|i| h.min + width * i as f64).collect();
        // The last edge exactly at the maximum, whatever the rounding of the sum above.
        h.bucket_limit[bins - 1] = h.max;
        h.bucket = vec![0.0; bins];
        for v in finite() {
            let i = if width > 0.0 {
                ((v - h.min) / width).floor() as usize
            } else {
                0
            };
            h.bucket[i.min(bins - 1)] += 1.0;
        }
        h
    }
}

/// A damaged or truncated event file: which file, where, and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{}: {what} at byte {offset}", file.display())]
pub struct EventFileError {
    /// The file.
    pub file: PathBuf,
    /// Byte offset in the file of the problem (the record's start, or the field's).
    pub offset: usize,
    /// What is wrong.
    pub what: String,
}

/// CRC32C (Castagnoli) of `data`, masked as TensorFlow's record files store it.
pub fn masked_crc32c(data: &[u8]) -> u32 {
    mask(crc32c::crc32c(data))
}

/// `((crc >> 15) | (crc << 17)) + 0xa282ead8`, wrapping.
fn mask(crc: u32) -> u32 {
    crc.rotate_right(15).wrapping_add(MASK_DELTA)
}

/// `data` framed as one record: length, its masked CRC, the data, its masked CRC.
pub fn frame(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + RECORD_OVERHEAD);
    let len = (data.len() as u64).to_le_bytes();
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc32c(data).to_le_bytes());
    out
}

/// Appends `v` as a protobuf varint (7 bits a byte, low first, high bit set on all but the last).
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends the key of `field` with `wire` type.
fn put_key(out: &mut Vec<u8>, field: u32, wire: u8) {
    put_varint(out, (u64::from(field) << 3) | u64::from(wire));
}

/// Appends an `int64` field (negative values take ten bytes, two's complement).
fn put_int64(out: &mut Vec<u8>, field: u32, v: i64) {
    put_key(out, field, VARINT);
    put_varint(out, v as u64);
}

/// Appends a `double` field.
fn put_double(out: &mut Vec<u8>, field: u32, v: f64) {
    put_key(out, field, FIXED64);
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends a `float` field.
fn put_float(out: &mut Vec<u8>, field: u32, v: f32) {
    put_key(out, field, FIXED32);
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends a length-delimited field (string, bytes, message).
fn put_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_key(out, field, LEN);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Appends a packed `repeated double` field (nothing when empty, as protobuf does).
fn put_packed_doubles(out: &mut Vec<u8>, field: u32, vs: &[f64]) {
    if vs.is_empty() {
        return;
    }
    put_key(out, field, LEN);
    put_varint(out, 8 * vs.len() as u64);
    for v in vs {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

impl Histogram {
    /// The serialized `HistogramProto`.
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(48 + 16 * self.bucket.len());
        put_double(&mut out, 1, self.min);
        put_double(&mut out, 2, self.max);
        put_double(&mut out, 3, self.num);
        put_double(&mut out, 4, self.sum);
        put_double(&mut out, 5, self.sum_squares);
        put_packed_doubles(&mut out, 6, &self.bucket_limit);
        put_packed_doubles(&mut out, 7, &self.bucket);
        out
    }
}

impl Value {
    /// The serialized `Summary.Value` (an [`ValueData::Other`] writes the tag alone).
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_bytes(&mut out, 1, self.tag.as_bytes());
        match &self.data {
            ValueData::Scalar(v) => put_float(&mut out, 2, *v),
            ValueData::Histogram(h) => put_bytes(&mut out, 5, &h.encode()),
            ValueData::Other => {}
        }
        out
    }
}

impl Event {
    /// An event at `step` stamped now.
    pub fn new(step: i64, what: What) -> Event {
        Event {
            wall_time: now(),
            step,
            what,
        }
    }

    /// A summary event of `values` at `step`, stamped now.
    pub fn summary(step: i64, values: Vec<Value>) -> Event {
        Event::new(step, What::Summary(values))
    }

    /// The serialized `Event` ([`What::Other`] writes the time and step alone).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_double(&mut out, 1, self.wall_time);
        put_int64(&mut out, 2, self.step);
        match &self.what {
            What::FileVersion(v) => put_bytes(&mut out, 3, v.as_bytes()),
            What::Summary(values) => {
                let mut summary = Vec::new();
                for v in values {
                    put_bytes(&mut summary, 1, &v.encode());
                }
                put_bytes(&mut out, 5, &summary);
            }
            What::SessionStart => {
                let mut log = Vec::new();
                put_int64(&mut log, 1, SESSION_START);
                put_bytes(&mut out, 7, &log);
            }
            What::Other => {}
        }
        out
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it).
fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// This machine's name for file names: `/proc/sys/kernel/hostname`, else `$HOSTNAME`
/// ([`Switches::hostname`]), else `localhost`; characters other than letters, digits, `-` and `_`
/// become `_`.
fn hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| Switches::current().hostname.clone())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into());
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Appends events to one new event file, buffered: nothing is on disk before [`flush`]
/// (or the buffer filling up). Every error names the file.
///
/// [`flush`]: EventWriter::flush
#[derive(Debug)]
pub struct EventWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl EventWriter {
    /// Creates a new event file in `dir`, `events.out.tfevents.<unix seconds>.<hostname>` (with
    /// `.2`, `.3`, … appended when that name is taken, so that a later file sorts after an earlier
    /// one of the same second), and writes its `file_version` event.
    pub fn create(dir: &Path) -> Result<EventWriter> {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let base = format!("events.out.tfevents.{secs}.{}", hostname());
        let mut n = 1;
        loop {
            let name = if n == 1 {
                base.clone()
            } else {
                format!("{base}.{n}")
            };
            let path = dir.join(name);
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => return EventWriter::start(path, file),
                Err(e) if e.kind() == ErrorKind::AlreadyExists && n < 1000 => n += 1,
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("creating the TensorBoard event file {}", path.display())
                    })
                }
            }
        }
    }

    /// A writer on the open `file` named `path`, its `file_version` event written.
    pub(crate) fn start(path: PathBuf, file: File) -> Result<EventWriter> {
        let mut w = EventWriter {
            path,
            out: BufWriter::with_capacity(64 << 10, file),
        };
        w.write(&Event::new(0, What::FileVersion(FILE_VERSION.into())))?;
        Ok(w)
    }

    /// The file written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `event` as one record.
    pub fn write(&mut self, event: &Event) -> Result<()> {
        let record = frame(&event.encode());
        self.out
            .write_all(&record)
            .with_context(|| format!("writing the TensorBoard event file {}", self.path.display()))
    }

    /// Appends a scalar event.
    pub fn scalar(&mut self, tag: &str, step: i64, value: f32) -> Result<()> {
        self.write(&Event::summary(
            step,
            vec![Value {
                tag: tag.into(),
                data: ValueData::Scalar(value),
            }],
        ))
    }

    /// Appends a histogram event.
    pub fn histogram(&mut self, tag: &str, step: i64, histogram: Histogram) -> Result<()> {
        self.write(&Event::summary(
            step,
            vec![Value {
                tag: tag.into(),
                data: ValueData::Histogram(histogram),
            }],
        ))
    }

    /// Appends a `SessionLog` START event: the program restarted at `step`, and TensorBoard drops
    /// the points of `step` and later that it read from earlier files.
    pub fn session_start(&mut self, step: i64) -> Result<()> {
        self.write(&Event::new(step, What::SessionStart))
    }

    /// Writes the buffered events to the file and asks the system to store them on disk.
    pub fn flush(&mut self) -> Result<()> {
        self.out
            .flush()
            .and_then(|()| self.out.get_ref().sync_data())
            .with_context(|| format!("writing the TensorBoard event file {}", self.path.display()))
    }
}

/// Reads an event file, checking the length and data checksums of every record, and decodes its
/// events; a truncated or damaged file is an [`EventFileError`] naming the file and the offset.
pub fn read_events(path: &Path) -> Result<Vec<Event>> {
    let bytes = crate::base::output::io::read_bounded(path, MAX_FILE_BYTES)?;
    Ok(parse_events(path, &bytes)?)
}

/// [`read_events`] on the bytes of `file`.
pub fn parse_events(file: &Path, bytes: &[u8]) -> Result<Vec<Event>, EventFileError> {
    let fail = |offset: usize, what: String| EventFileError {
        file: file.to_path_buf(),
        offset,
        what,
    };
    let u32_at = |at: usize| {
        let mut b = [0u8; 4];
        b.copy_from_slice(&bytes[at..at + 4]);
        u32::from_le_bytes(b)
    };
    let mut events = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let left = bytes.len() - at;
        if left < 12 {
            return Err(fail(
                at,
                format!("truncated record header ({left} of 12 bytes)"),
            ));
        }
        let mut len = [0u8; 8];
        len.copy_from_slice(&bytes[at..at + 8]);
        if masked_crc32c(&len) != u32_at(at + 8) {
            return Err(fail(at, "record length checksum mismatch".into()));
        }
        let len = u64::from_le_bytes(len);
        // Room for the data and its checksum after the header (none when under 16 bytes are left).
        let room = left.checked_sub(RECORD_OVERHEAD);
        let data_len = match (usize::try_from(len), room) {
            (Ok(n), Some(room)) if n <= room => n,
            _ => {
                return Err(fail(
                    at,
                    format!(
                        "truncated record ({len} bytes of data and 4 of checksum announced, \
                         {} left)",
                        left - 12
                    ),
                ))
            }
        };
        let data = &bytes[at + 12..at + 12 + data_len];
        if masked_crc32c(data) != u32_at(at + 12 + data_len) {
            return Err(fail(at, "record data checksum mismatch".into()));
        }
        let event = decode_event(&mut Fields::new(data, at + 12))
            .map_err(|(offset, what)| fail(offset, format!("malformed event: {what}")))?;
        events.push(event);
        at += 12 + data_len + 4;
    }
    Ok(events)
}

/// A decoding problem: the file offset and what is wrong.
type DecodeError = (usize, String);

/// The fields of one protobuf message, in order.
struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
    /// File offset of `buf[0]`, for errors.
    base: usize,
}

/// One field's payload.
enum Payload<'a> {
    Varint(u64),
    Fixed64([u8; 8]),
    Fixed32([u8; 4]),
    Bytes(&'a [u8], usize),
}

impl<'a> Fields<'a> {
    fn new(buf: &'a [u8], base: usize) -> Self {
        Fields { buf, pos: 0, base }
    }

    fn error(&self, what: impl Into<String>) -> DecodeError {
        (self.base + self.pos, what.into())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() - self.pos < n {
            return Err(self.error(format!(
                "field runs past its message ({n} bytes wanted, {} left)",
                self.buf.len() - self.pos
            )));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = *self
                .buf
                .get(self.pos)
                .ok_or_else(|| self.error("truncated varint"))?;
            self.pos += 1;
            // The tenth byte may only carry the top bit of a u64.
            if i == 9 && b > 1 {
                return Err(self.error("varint overflows 64 bits"));
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.error("varint longer than 10 bytes"))
    }

    /// The next field's number and payload, or `None` at the end of the message.
    fn next(&mut self) -> Result<Option<(u64, Payload<'a>)>, DecodeError> {
        if self.pos == self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let (field, wire) = (key >> 3, (key & 7) as u8);
        if field == 0 {
            return Err(self.error("field number 0"));
        }
        let payload = match wire {
            VARINT => Payload::Varint(self.varint()?),
            FIXED64 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(self.take(8)?);
                Payload::Fixed64(b)
            }
            FIXED32 => {
                let mut b = [0u8; 4];
                b.copy_from_slice(self.take(4)?);
                Payload::Fixed32(b)
            }
            LEN => {
                let n = self.varint()?;
                let n =
                    usize::try_from(n).map_err(|_| self.error(format!("length {n} too large")))?;
                let at = self.base + self.pos;
                Payload::Bytes(self.take(n)?, at)
            }
            w => return Err(self.error(format!("unsupported wire type {w} (field {field})"))),
        };
        Ok(Some((field, payload)))
    }
}

/// The error for `field` of `message` found with the wrong wire type.
fn wrong_type(f: &Fields, message: &str, field: u64) -> DecodeError {
    f.error(format!("{message} field {field} has the wrong wire type"))
}

fn utf8(bytes: &[u8], at: usize, what: &str) -> Result<String, DecodeError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| (at, format!("{what} is not UTF-8")))
}

fn decode_event(f: &mut Fields) -> Result<Event, DecodeError> {
    let mut e = Event {
        wall_time: 0.0,
        step: 0,
        what: What::Other,
    };
    while let Some((field, p)) = f.next()? {
        match (field, p) {
            (1, Payload::Fixed64(b)) => e.wall_time = f64::from_le_bytes(b),
            (2, Payload::Varint(v)) => e.step = v as i64,
            (3, Payload::Bytes(b, at)) => e.what = What::FileVersion(utf8(b, at, "file_version")?),
            (5, Payload::Bytes(b, at)) => {
                let mut values = Vec::new();
                let mut s = Fields::new(b, at);
                while let Some((field, p)) = s.next()? {
                    match (field, p) {
                        (1, Payload::Bytes(b, at)) => {
                            values.push(decode_value(&mut Fields::new(b, at))?)
                        }
                        (1, _) => return Err(wrong_type(&s, "Summary", field)),
                        _ => {}
                    }
                }
                e.what = What::Summary(values);
            }
            (7, Payload::Bytes(b, at)) => {
                let mut s = Fields::new(b, at);
                let mut status = 0;
                while let Some((field, p)) = s.next()? {
                    match (field, p) {
                        (1, Payload::Varint(v)) => status = v as i64,
                        (1, _) => return Err(wrong_type(&s, "SessionLog", field)),
                        _ => {}
                    }
                }
                e.what = if status == SESSION_START {
                    What::SessionStart
                } else {
                    What::Other
                };
            }
            (1 | 2 | 3 | 5 | 7, _) => return Err(wrong_type(f, "Event", field)),
            _ => {}
        }
    }
    Ok(e)
}

fn decode_value(f: &mut Fields) -> Result<Value, DecodeError> {
    let mut v = Value {
        tag: String::new(),
        data: ValueData::Other,
    };
    while let Some((field, p)) = f.next()? {
        match (field, p) {
            (1, Payload::Bytes(b, at)) => v.tag = utf8(b, at, "tag")?,
            (2, Payload::Fixed32(b)) => v.data = ValueData::Scalar(f32::from_le_bytes(b)),
            (5, Payload::Bytes(b, at)) => {
                v.data = ValueData::Histogram(decode_histogram(&mut Fields::new(b, at))?)
            }
            (1 | 2 | 5, _) => return Err(wrong_type(f, "Summary.Value", field)),
            _ => {}
        }
    }
    Ok(v)
}

fn decode_histogram(f: &mut Fields) -> Result<Histogram, DecodeError> {
    let mut h = Histogram::default();
    while let Some((field, p)) = f.next()? {
        match (field, p) {
            (1..=5, Payload::Fixed64(b)) => {
                let x = f64::from_le_bytes(b);
                match field {
                    1 => h.min = x,
                    2 => h.max = x,
                    3 => h.num = x,
                    4 => h.sum = x,
                    _ => h.sum_squares = x,
                }
            }
            (6 | 7, p) => {
                let list = if field == 6 {
                    &mut h.bucket_limit
                } else {
                    &mut h.bucket
                };
                match p {
                    // Unpacked: one element.
                    Payload::Fixed64(b) => list.push(f64::from_le_bytes(b)),
                    Payload::Bytes(b, at) => {
                        if b.len() % 8 != 0 {
                            return Err((
                                at,
                                format!("packed doubles of {} bytes, not a multiple of 8", b.len()),
                            ));
                        }
                        list.extend(b.chunks_exact(8).map(|c| {
                            let mut x = [0u8; 8];
                            x.copy_from_slice(c);
                            f64::from_le_bytes(x)
                        }));
                    }
                    _ => return Err(wrong_type(f, "HistogramProto", field)),
                }
            }
            (1..=5, _) => return Err(wrong_type(f, "HistogramProto", field)),
            _ => {}
        }
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        put_varint(&mut out, v);
        out
    }

    #[test]
    fn varints_match_the_protobuf_encoding() {
        assert_eq!(varint(0), [0x00]);
        assert_eq!(varint(1), [0x01]);
        assert_eq!(varint(127), [0x7f]);
        // The protobuf documentation's example: 150 = 0b1_0010110 → 0x96 0x01.
        assert_eq!(varint(150), [0x96, 0x01]);
        assert_eq!(varint(300), [0xac, 0x02]);
        assert_eq!(varint(16_384), [0x80, 0x80, 0x01]);
        // −1 as an int64: ten bytes, all bits set.
        let mut out = Vec::new();
        put_int64(&mut out, 2, -1);
        let mut want = vec![0x10];
        want.extend([0xff; 9]);
        want.push(0x01);
        assert_eq!(out, want);
        assert_eq!(varint(u64::MAX).len(), 10);
        for v in [0, 1, 127, 128, 150, 300, 1 << 35, u64::MAX - 1, u64::MAX] {
            let b = varint(v);
            assert_eq!(Fields::new(&b, 0).varint().unwrap(), v);
        }
    }

    #[test]
    fn fields_match_hand_computed_bytes() {
        let mut out = Vec::new();
        // Key 1<<3|1 = 0x09, then 1.0 little-endian.
        put_double(&mut out, 1, 1.0);
        assert_eq!(out, [0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f]);
        out.clear();
        // Key 2<<3|5 = 0x15, then 0.5f32 = 0x3f000000.
        put_float(&mut out, 2, 0.5);
        assert_eq!(out, [0x15, 0, 0, 0, 0x3f]);
        out.clear();
        // Key 1<<3|2 = 0x0a, length 3, "abc".
        put_bytes(&mut out, 1, b"abc");
        assert_eq!(out, [0x0a, 3, b'a', b'b', b'c']);
        out.clear();
        // Key 6<<3|2 = 0x32, 16 bytes, 1.0, 2.0.
        put_packed_doubles(&mut out, 6, &[1.0, 2.0]);
        let mut want = vec![0x32, 16];
        want.extend(1.0f64.to_le_bytes());
        want.extend(2.0f64.to_le_bytes());
        assert_eq!(out, want);
        out.clear();
        put_int64(&mut out, 2, 150);
        assert_eq!(out, [0x10, 0x96, 0x01]);
    }

    #[test]
    fn a_scalar_event_matches_hand_computed_bytes() {
        let e = Event {
            wall_time: 2.0,
            step: 3,
            what: What::Summary(vec![Value {
                tag: "a".into(),
                data: ValueData::Scalar(1.0),
            }]),
        };
        // Value: 0a 01 'a' 15 <1.0f32> = 8 bytes; Summary: 0a 08 <value> = 10 bytes;
        // Event: 09 <2.0f64> 10 03 2a 0a <summary>.
        let mut want = vec![0x09];
        want.extend(2.0f64.to_le_bytes());
        want.extend([0x10, 0x03, 0x2a, 0x0a, 0x0a, 0x08, 0x0a, 0x01, b'a', 0x15]);
        want.extend(1.0f32.to_le_bytes());
        assert_eq!(e.encode(), want);
        let back = decode_event(&mut Fields::new(&want, 0)).unwrap();
        assert_eq!(back, e);
        // A restart: 09 <0.0f64> 10 05 3a 02 (SessionLog: 08 01, status START).
        let e = Event {
            wall_time: 0.0,
            step: 5,
            what: What::SessionStart,
        };
        let mut want = vec![0x09];
        want.extend(0.0f64.to_le_bytes());
        want.extend([0x10, 0x05, 0x3a, 0x02, 0x08, 0x01]);
        assert_eq!(e.encode(), want);
        assert_eq!(decode_event(&mut Fields::new(&want, 0)).unwrap(), e);
    }

    #[test]
    fn masked_crc32c_matches_known_values() {
        // The CRC-32C check value (RFC 3720's test vector).
        assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
        let crc: u32 = 0xE306_9283;
        // The format's formula as TensorFlow writes it.
        #[allow(clippy::manual_rotate)]
        let masked = ((crc >> 15) | (crc << 17)).wrapping_add(0xa282_ead8);
        assert_eq!(masked_crc32c(b"123456789"), masked);
        // By hand: rotr(0xE3069283, 15) = 0x2507_C60D; + 0xA282EAD8 = 0xC78A_B0E5.
        assert_eq!(masked_crc32c(b"123456789"), 0xC78A_B0E5);
        // CRC32C of nothing is 0, masked: the delta alone.
        assert_eq!(masked_crc32c(b""), 0xa282_ead8);
    }

    #[test]
    fn a_frame_is_length_crc_data_crc() {
        let f = frame(b"xyz");
        assert_eq!(f.len(), 3 + RECORD_OVERHEAD);
        assert_eq!(&f[..8], &3u64.to_le_bytes());
        assert_eq!(&f[8..12], &masked_crc32c(&3u64.to_le_bytes()).to_le_bytes());
        assert_eq!(&f[12..15], b"xyz");
        assert_eq!(&f[15..], &masked_crc32c(b"xyz").to_le_bytes());
    }

    #[test]
    fn histograms_count_every_finite_value_once() {
        let v: Vec<f32> = (0..100).map(|i| i as f32 / 10.0).collect();
        let h = Histogram::of(&v, 7);
        assert_eq!((h.min, h.max, h.num), (0.0, 9.9f32 as f64, 100.0));
        assert_eq!(h.bucket.len(), 7);
        assert_eq!(h.bucket.iter().sum::<f64>(), 100.0);
        assert_eq!(*h.bucket_limit.last().unwrap(), h.max);
        assert!(h.bucket_limit.windows(2).all(|w| w[0] < w[1]));
        let same = Histogram::of(&[2.0, 2.0, f32::NAN, f32::INFINITY], 30);
        assert_eq!(same.num, 2.0);
        assert_eq!((same.bucket_limit, same.bucket), (vec![2.0], vec![2.0]));
        let none = Histogram::of(&[f32::NAN], 30);
        assert_eq!(none.num, 0.0);
        assert!(none.bucket.is_empty());
    }

    fn sample_file(dir: &Path) -> (PathBuf, Vec<Event>) {
        let mut w = EventWriter::create(dir).unwrap();
        w.scalar("train/loss", 1, 2.5).unwrap();
        w.scalar("train/loss", -7, f32::NAN).unwrap();
        w.histogram("weights/w", 3, Histogram::of(&[1.0, -2.0, 3.5], 4))
            .unwrap();
        w.session_start(2).unwrap();
        w.flush().unwrap();
        let path = w.path().to_path_buf();
        let events = read_events(&path).unwrap();
        (path, events)
    }

    #[test]
    fn a_written_file_reads_back() {
        let tmp = tempfile::tempdir().unwrap();
        let (path, events) = sample_file(tmp.path());
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        assert!(name.starts_with("events.out.tfevents."), "{name}");
        assert_eq!(events.len(), 5);
        assert_eq!(events[0].file_version(), Some(FILE_VERSION));
        assert!(events[0].values().is_empty());
        assert_eq!(events[1].step, 1);
        assert_eq!(events[1].values()[0].tag, "train/loss");
        assert_eq!(events[1].values()[0].data, ValueData::Scalar(2.5));
        assert_eq!(events[2].step, -7);
        assert!(matches!(events[2].values()[0].data, ValueData::Scalar(x) if x.is_nan()));
        assert_eq!(
            events[3].values()[0].data,
            ValueData::Histogram(Histogram::of(&[1.0, -2.0, 3.5], 4))
        );
        assert_eq!((events[4].step, &events[4].what), (2, &What::SessionStart));
        assert!(events.iter().all(|e| e.wall_time > 1.6e9));
        // A second file of the same second gets another name, sorted after the first.
        let w = EventWriter::create(tmp.path()).unwrap();
        assert_ne!(w.path(), path);
    }

    #[test]
    fn truncated_and_corrupted_files_are_errors_naming_file_and_offset() {
        let tmp = tempfile::tempdir().unwrap();
        let (path, _) = sample_file(tmp.path());
        let bytes = std::fs::read(&path).unwrap();
        // Every truncation that does not fall between two records is an error; none panics.
        let mut boundaries = vec![0];
        for e in parse_events(&path, &bytes).unwrap() {
            let last = *boundaries.last().unwrap();
            boundaries.push(last + e.encode().len() + RECORD_OVERHEAD);
        }
        assert_eq!(*boundaries.last().unwrap(), bytes.len());
        for n in 0..bytes.len() {
            let r = parse_events(&path, &bytes[..n]);
            if boundaries.contains(&n) {
                assert!(r.is_ok(), "cut at {n}");
            } else {
                let e = r.unwrap_err();
                assert!(e.to_string().contains(&path.display().to_string()));
                assert!(e.to_string().contains("truncated"), "{e}");
                assert!(e.offset <= n, "{e}");
            }
        }
        // Every single bit flip is caught by a checksum (or, in a length, as a truncation).
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                let e = parse_events(&path, &b).unwrap_err();
                assert!(e.to_string().contains(" at byte "), "{e}");
            }
        }
        // Damage behind valid checksums (a decoder's problem) is an error too, never a panic.
        let mut state = 0x1234_5678_u64;
        for _ in 0..2000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (state >> 33) as usize % 40;
            let data: Vec<u8> = (0..len)
                .map(|i| (state >> (i % 56)) as u8 ^ i as u8)
                .collect();
            let f = frame(&data);
            for n in 0..=f.len() {
                let _ = parse_events(&path, &f[..n]);
            }
        }
        // An empty record cut anywhere in its data checksum.
        let empty = frame(&[]);
        for n in 12..empty.len() {
            let e = parse_events(&path, &empty[..n]).unwrap_err();
            assert!(e.to_string().contains("truncated record"), "{e}");
        }
        let e = read_events(&tmp.path().join("missing")).unwrap_err();
        assert!(format!("{e:#}").contains("missing"));
    }

    #[test]
    fn a_file_written_by_tensorboard_reads_back_and_re_encodes_to_the_same_bytes() {
        // Written by TensorBoard 2.21's EventFileWriter and protobuf classes
        // (`scripts/check-tensorboard.py --write-fixture`).
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden/tensorboard/events.out.tfevents.tensorboard-2.21");
        let bytes = std::fs::read(&path).unwrap();
        let events = parse_events(&path, &bytes).unwrap();
        assert_eq!(events.len(), 5);
        // Its first event also carries source metadata, a field skipped here.
        assert_eq!(events[0].file_version(), Some(FILE_VERSION));
        let histo = Histogram {
            min: -1.0,
            max: 2.0,
            num: 3.0,
            sum: 1.0,
            sum_squares: 6.0,
            bucket_limit: vec![0.0, 1.0, 2.0],
            bucket: vec![1.0, 1.0, 1.0],
        };
        let value = |tag: &str, data| Value {
            tag: tag.into(),
            data,
        };
        let want = [
            Event {
                wall_time: 1.5e9,
                step: 1,
                what: What::Summary(vec![
                    value("a/scalar", ValueData::Scalar(0.25)),
                    value("b/histo", ValueData::Histogram(histo)),
                ]),
            },
            Event {
                wall_time: 1.5e9 + 1.0,
                step: 3,
                what: What::SessionStart,
            },
            Event {
                wall_time: 1.5e9 + 2.0,
                step: -5,
                what: What::Summary(vec![value("a/scalar", ValueData::Scalar(-2.0))]),
            },
            // A tensor value with summary metadata, and source metadata: not decoded.
            Event {
                wall_time: 1.5e9 + 3.0,
                step: 300,
                what: What::Summary(vec![value("c/tensor", ValueData::Other)]),
            },
        ];
        assert_eq!(events[1..], want);
        // protobuf's own serializer wrote the first three byte for byte as `encode` does.
        let mut at = 0;
        for (i, e) in events.iter().enumerate() {
            let mut len = [0u8; 8];
            len.copy_from_slice(&bytes[at..at + 8]);
            let end = at + RECORD_OVERHEAD + u64::from_le_bytes(len) as usize;
            if (1..=3).contains(&i) {
                assert_eq!(frame(&e.encode()), &bytes[at..end], "event {i}");
            }
            at = end;
        }
        assert_eq!(at, bytes.len());
    }

    #[test]
    fn a_full_disk_is_an_error_naming_the_file() {
        let Ok(file) = OpenOptions::new().write(true).open("/dev/full") else {
            return;
        };
        let mut w = EventWriter::start("/dev/full".into(), file).unwrap();
        let mut result = Ok(());
        for step in 0..100_000 {
            result = w.scalar("x", step, 1.0);
            if result.is_err() {
                break;
            }
        }
        let e = result.and_then(|()| w.flush()).unwrap_err();
        assert!(format!("{e:#}").contains("/dev/full"), "{e:#}");
    }
}
