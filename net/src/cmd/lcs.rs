//! LCS: the longest common subsequence of two strings (Redis 7.0's
//! algorithm and reply shapes, including IDX ranges emitted from the end).

use bytes::Bytes;
use shardis_shards::error::OpError;
use shardis_shards::error::OpResult;
use shardis_shards::op::Op;
use shardis_shards::op::Output;

use super::CommandSpec;
use super::Ctx;
use super::Plan;
use super::args::int;
use super::args::is;
use crate::reply::CmdError;
use crate::reply::op_error_reply;
use crate::resp::Reply;

const GROUP: &str = "string";

pub static COMMANDS: &[CommandSpec] = &[spec!("lcs", -3, ["readonly"], 1, 1, 1, lcs)];

/// The DP table has (|a|+1)(|b|+1) cells of 4 bytes; refuse above this,
/// as Redis refuses past its memory limit.
const MAX_CELLS: u64 = 128 * 1024 * 1024;

#[derive(Clone, Copy, Default)]
struct Opts {
    idx: bool,
    len: bool,
    with_match_len: bool,
    min_match_len: u64,
}

fn lcs(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let mut o = Opts::default();
    let mut j = 3;
    while j < a.len() {
        let more = a.len() - 1 - j;
        if is(&a[j], "idx") {
            o.idx = true;
        } else if is(&a[j], "len") {
            o.len = true;
        } else if is(&a[j], "withmatchlen") {
            o.with_match_len = true;
        } else if is(&a[j], "minmatchlen") && more > 0 {
            o.min_match_len = int(&a[j + 1])?.max(0) as u64;
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    if o.idx && o.len {
        return Ok(Plan::Reply(Reply::error(
            "ERR If you want both the length and indexes, please just use IDX.",
        )));
    }
    let router = &ctx.cx.core.router;
    let parts = vec![
        (router.shard_of_key(&a[1]), Op::Get(a[1].clone())),
        (router.shard_of_key(&a[2]), Op::Get(a[2].clone())),
    ];
    Ok(Plan::Many {
        parts,
        finish: Box::new(move |rs| finish(rs, o)),
    })
}

fn value(r: OpResult<Output>) -> Result<Bytes, Reply> {
    match r {
        Ok(Output::Bulk(b)) => Ok(b),
        Ok(_) => Ok(Bytes::new()),
        Err(OpError::WrongType) => Err(Reply::error(
            "ERR The specified keys must contain string values",
        )),
        Err(e) => Err(op_error_reply(&e)),
    }
}

fn finish(rs: Vec<OpResult<Output>>, o: Opts) -> Reply {
    let mut it = rs.into_iter();
    let (a, b) = match (
        value(it.next().unwrap_or(Ok(Output::Nil))),
        value(it.next().unwrap_or(Ok(Output::Nil))),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    if (a.len() as u64 + 1) * (b.len() as u64 + 1) > MAX_CELLS {
        return Reply::error(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        );
    }
    compute(&a, &b, o)
}

fn compute(a: &[u8], b: &[u8], o: Opts) -> Reply {
    let (alen, blen) = (a.len(), b.len());
    let w = alen + 1;
    let mut t = vec![0u32; w * (blen + 1)];
    for j in 1..=blen {
        for i in 1..=alen {
            t[j * w + i] = if a[i - 1] == b[j - 1] {
                t[(j - 1) * w + i - 1] + 1
            } else {
                t[(j - 1) * w + i].max(t[j * w + i - 1])
            };
        }
    }
    let lcs = |i: usize, j: usize| t[j * w + i];
    let total = lcs(alen, blen);
    if o.len {
        return Reply::Int(total as i64);
    }
    let mut result = vec![0u8; total as usize];
    let mut idx = total as usize;
    let mut matches = Vec::new();
    let (mut i, mut j) = (alen, blen);
    // `alen` in arange_start means "no range open", as in Redis.
    let (mut a_start, mut a_end, mut b_start, mut b_end) = (alen, 0, 0, 0);
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[idx - 1] = a[i - 1];
            if a_start == alen {
                (a_start, a_end, b_start, b_end) = (i - 1, i - 1, j - 1, j - 1);
            } else if a_start == i && b_start == j {
                a_start -= 1;
                b_start -= 1;
            } else {
                emit = true;
            }
            if a_start == 0 || b_start == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if lcs(i - 1, j) > lcs(i, j - 1) {
                i -= 1;
            } else {
                j -= 1;
            }
            if a_start != alen {
                emit = true;
            }
        }
        let match_len = (a_end + 1).saturating_sub(a_start) as u64;
        if emit {
            if o.idx && (o.min_match_len == 0 || match_len >= o.min_match_len) {
                let mut m = vec![
                    Reply::Array(vec![Reply::Int(a_start as i64), Reply::Int(a_end as i64)]),
                    Reply::Array(vec![Reply::Int(b_start as i64), Reply::Int(b_end as i64)]),
                ];
                if o.with_match_len {
                    m.push(Reply::Int(match_len as i64));
                }
                matches.push(Reply::Array(m));
            }
            a_start = alen;
        }
    }
    if o.idx {
        return Reply::Map(vec![
            (Reply::bulk("matches"), Reply::Array(matches)),
            (Reply::bulk("len"), Reply::Int(total as i64)),
        ]);
    }
    Reply::Bulk(Bytes::from(result))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_redis_examples() {
        let (a, b) = (b"ohmytext".as_slice(), b"mynewtext".as_slice());
        assert_eq!(compute(a, b, Opts::default()), Reply::bulk("mytext"));
        let len = Opts {
            len: true,
            ..Default::default()
        };
        assert_eq!(compute(a, b, len), Reply::Int(6));
        let idx = Opts {
            idx: true,
            with_match_len: true,
            min_match_len: 4,
            ..Default::default()
        };
        let want = Reply::Map(vec![
            (
                Reply::bulk("matches"),
                Reply::Array(vec![Reply::Array(vec![
                    Reply::Array(vec![Reply::Int(4), Reply::Int(7)]),
                    Reply::Array(vec![Reply::Int(5), Reply::Int(8)]),
                    Reply::Int(4),
                ])]),
            ),
            (Reply::bulk("len"), Reply::Int(6)),
        ]);
        assert_eq!(compute(a, b, idx), want);
        assert_eq!(compute(b"", b"abc", Opts::default()), Reply::bulk(""));
    }
}
