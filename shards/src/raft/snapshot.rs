//! Snapshot files of a shard, built and installed off the executor.
//!
//! Building takes a RocksDB point-in-time snapshot of the shard's data
//! column family and streams it, in chunks, into a file on a thread of its
//! own: the shard keeps serving while it runs. The last applied log id and
//! membership are read from that same point-in-time view (the state machine
//! writes them in the same WriteBatch as the data), so a file is always a
//! consistent cut whatever the executor applied meanwhile.
//!
//! File layout (every part a little-endian u32 length, then codec bytes):
//! `MAGIC`, the `SnapshotMeta`, record chunks of at most [`CHUNK_BYTES`],
//! and an empty chunk as the end mark. A file is written as `*.tmp`,
//! fsynced and renamed, so a crash never leaves a torn `*.snap`.
//!
//! Installing streams a file into one WriteBatch that first range-deletes
//! the whole column family: RocksDB applies a batch atomically, so a crash
//! leaves either the old state or the snapshot's, never a mix.

use std::fs;
use std::fs::File;
use std::io;
use std::io::BufReader;
use std::io::BufWriter;
use std::io::Read;
use std::io::Write;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;

use rocksdb::DB;
use rocksdb::ReadOptions;
use rocksdb::WriteBatch;
use rocksdb::WriteOptions;

use super::SnapshotMeta;
use crate::codec;
use crate::storage::keys;
use crate::storage::meta::Meta;

const MAGIC: &[u8; 8] = b"SHDSNAP1";
/// Records are written in chunks of about this many bytes, so neither side
/// ever holds the whole snapshot in memory.
pub const CHUNK_BYTES: usize = 1 << 20;
/// Largest chunk a reader accepts: a corrupt length must not make it
/// allocate gigabytes.
const MAX_CHUNK: usize = 64 << 20;

/// A snapshot on disk: what openraft carries around as the snapshot data.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotFile {
    pub path: PathBuf,
}

/// Runs `f` on a thread of its own and awaits its result without blocking
/// the executor (snapshots are rare, so a thread each is cheap enough).
pub async fn off_executor<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    let (tx, rx) = flume::bounded(1);
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let _ = tx.send(f());
        })?;
    rx.recv_async()
        .await
        .map_err(|_| io::Error::other("snapshot thread panicked"))?
}

fn write_part(w: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    let len = u32::try_from(bytes.len()).map_err(|_| io::Error::other("snapshot part too big"))?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(bytes)
}

fn read_part(r: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len)?;
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_CHUNK {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("snapshot chunk of {len} bytes"),
        ));
    }
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf)?;
    Ok(buf)
}

fn cf<'a>(db: &'a DB, name: &str) -> io::Result<&'a rocksdb::ColumnFamily> {
    db.cf_handle(name)
        .ok_or_else(|| io::Error::other(format!("column family {name} missing")))
}

/// The directory holding shard `cf`'s snapshot files, inside its RocksDB's
/// directory (RocksDB ignores directories it did not make).
pub fn dir_of(db: &DB, cf: &str) -> PathBuf {
    db.path().join(format!("snapshots-{cf}"))
}

/// Builds a snapshot file of column family `cf` into `dir` (on the calling
/// thread: run it through [`off_executor`]), named `name`. `meta_of` turns the applied
/// state found in the point-in-time view into the snapshot's metadata.
pub fn build(
    db: Arc<DB>,
    cf_name: String,
    dir: PathBuf,
    name: String,
    meta_of: impl FnOnce(Option<Vec<u8>>, Option<Vec<u8>>) -> io::Result<SnapshotMeta>,
) -> io::Result<(SnapshotMeta, SnapshotFile)> {
    fs::create_dir_all(&dir)?;
    let handle = cf(&db, &cf_name)?;
    let view = db.snapshot();
    let applied = view
        .get_cf(handle, keys::raft_key(super::state_machine::APPLIED))
        .map_err(io::Error::other)?;
    let membership = view
        .get_cf(handle, keys::raft_key(super::state_machine::MEMBERSHIP))
        .map_err(io::Error::other)?;
    let meta = meta_of(applied, membership)?;
    let tmp = dir.join(format!("{name}.tmp"));
    let mut w = BufWriter::new(File::create(&tmp)?);
    w.write_all(MAGIC)?;
    write_part(&mut w, &codec::encode(&meta)?)?;
    let mut ro = ReadOptions::default();
    ro.set_snapshot(&view);
    // A snapshot walk reads everything once: keep it out of the block cache.
    ro.fill_cache(false);
    let mut it = db.raw_iterator_cf_opt(handle, ro);
    it.seek_to_first();
    let mut chunk: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut bytes = 0;
    while let (Some(k), Some(v)) = (it.key(), it.value()) {
        bytes += k.len() + v.len();
        chunk.push((k.to_vec(), v.to_vec()));
        if bytes >= CHUNK_BYTES {
            write_part(&mut w, &codec::encode(&chunk)?)?;
            chunk.clear();
            bytes = 0;
        }
        it.next();
    }
    it.status().map_err(io::Error::other)?;
    if !chunk.is_empty() {
        write_part(&mut w, &codec::encode(&chunk)?)?;
    }
    write_part(&mut w, &[])?;
    let file = w.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    drop(file);
    let path = dir.join(format!("{name}.snap"));
    fs::rename(&tmp, &path)?;
    File::open(&dir)?.sync_all()?;
    remove_others(&dir, &path);
    Ok((meta, SnapshotFile { path }))
}

/// Deletes every snapshot file in `dir` except `keep` (older snapshots and
/// leftovers of interrupted builds). Failures only cost disk space.
fn remove_others(dir: &Path, keep: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p != keep {
            let _ = fs::remove_file(p);
        }
    }
}

/// Opens a snapshot file, checks its magic and reads its metadata; the
/// reader is left at the first record chunk.
fn open(path: &Path) -> io::Result<(BufReader<File>, SnapshotMeta)> {
    let mut r = BufReader::new(File::open(path)?);
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic)?;
    if &magic != MAGIC {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a shardis snapshot",
        ));
    }
    let meta = codec::decode(&read_part(&mut r)?)?;
    Ok((r, meta))
}

/// Reads only the metadata of a snapshot file.
pub fn read_meta(path: &Path) -> io::Result<SnapshotMeta> {
    Ok(open(path)?.1)
}

/// The newest complete snapshot in `dir`, if any (startup: openraft asks
/// for the current snapshot to know what the log may have purged).
pub fn latest(dir: &Path) -> Option<(SnapshotMeta, SnapshotFile)> {
    let entries = fs::read_dir(dir).ok()?;
    let mut best: Option<(SnapshotMeta, SnapshotFile)> = None;
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().is_none_or(|x| x != "snap") {
            continue;
        }
        let Ok(meta) = read_meta(&path) else { continue };
        if best
            .as_ref()
            .is_none_or(|(b, _)| b.last_log_id < meta.last_log_id)
        {
            best = Some((meta, SnapshotFile { path }));
        }
    }
    best
}

/// What installing a snapshot found: keys and keys with an expiry, for
/// the shard's counters.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Installed {
    pub keys: u64,
    pub expires: u64,
}

/// Replaces column family `cf` with the records of `file` in one atomic,
/// synced WriteBatch, and keeps a copy of the file in `dir` as the current
/// snapshot (on the calling thread: run it through [`off_executor`]).
pub fn install(
    db: Arc<DB>,
    cf_name: String,
    dir: PathBuf,
    file: SnapshotFile,
) -> io::Result<(Installed, SnapshotFile)> {
    let handle = cf(&db, &cf_name)?;
    let (mut r, _meta) = open(&file.path)?;
    let mut batch = WriteBatch::default();
    batch.delete_range_cf(handle, [0u8].as_slice(), keys::END);
    let mut found = Installed::default();
    loop {
        let part = read_part(&mut r)?;
        if part.is_empty() {
            break;
        }
        let records: Vec<(Vec<u8>, Vec<u8>)> = codec::decode(&part)?;
        for (k, v) in records {
            if k.first() == Some(&keys::META) {
                found.keys += 1;
                found.expires += u64::from(Meta::peek_expire(&v).is_some());
            }
            batch.put_cf(handle, k, v);
        }
    }
    let mut wo = WriteOptions::default();
    wo.set_sync(true);
    db.write_opt(batch, &wo).map_err(io::Error::other)?;
    // Keep our own copy as the current snapshot (the sender's file may go).
    fs::create_dir_all(&dir)?;
    let name = file
        .path
        .file_stem()
        .map_or_else(|| "installed".into(), |n| n.to_string_lossy().into_owned());
    let own = dir.join(format!("{name}.snap"));
    if own != file.path {
        let tmp = own.with_extension("tmp");
        fs::copy(&file.path, &tmp)?;
        File::open(&tmp)?.sync_all()?;
        fs::rename(&tmp, &own)?;
        File::open(&dir)?.sync_all()?;
    }
    remove_others(&dir, &own);
    Ok((found, SnapshotFile { path: own }))
}
