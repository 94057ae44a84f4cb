use std::collections::BTreeMap;

use bytes::Bytes;
use proptest::prelude::*;

use super::read::all_entries;
use super::*;
use crate::error::OpError;
use crate::op::Op;
use crate::op::zset::AddFlags;
use crate::op::zset::Aggregate;
use crate::op::zset::LexBound;
use crate::op::zset::LexRange;
use crate::op::zset::RangeQuery;
use crate::op::zset::RangeSpec;
use crate::op::zset::ScoreBound;
use crate::op::zset::ScoreRange;
use crate::op::zset::SetAlgebra;
use crate::shard::test_bytes as b;
use crate::shard::test_shard as shard;

const NOW: i64 = 1000;

fn run(sh: &mut Shard, op: ZSetOp) -> OpResult<Output> {
    sh.execute(Op::ZSets(op), NOW)
}

fn ok(sh: &mut Shard, op: ZSetOp) -> Output {
    run(sh, op).expect("op succeeds")
}

fn add_with(sh: &mut Shard, key: &str, pairs: &[(f64, &str)], flags: AddFlags) -> OpResult<Output> {
    let pairs = pairs.iter().map(|(s, m)| (*s, b(m))).collect();
    run(
        sh,
        ZSetOp::Add {
            key: b(key),
            pairs,
            flags,
        },
    )
}

fn add(sh: &mut Shard, key: &str, pairs: &[(f64, &str)]) -> Output {
    add_with(sh, key, pairs, AddFlags::default()).unwrap()
}

fn arr(items: &[&str]) -> Output {
    Output::Array(items.iter().map(|s| Output::Bulk(b(s))).collect())
}

fn bulk(s: &str) -> Output {
    Output::Bulk(b(s))
}

fn incl(v: f64) -> ScoreBound {
    ScoreBound {
        value: v,
        exclusive: false,
    }
}

fn excl(v: f64) -> ScoreBound {
    ScoreBound {
        value: v,
        exclusive: true,
    }
}

fn range(
    sh: &mut Shard,
    key: &str,
    spec: RangeSpec,
    rev: bool,
    limit: Option<(i64, i64)>,
) -> Output {
    let query = RangeQuery {
        spec,
        rev,
        limit,
        withscores: false,
    };
    ok(sh, ZSetOp::Range { key: b(key), query })
}

fn ranks(start: i64, stop: i64) -> RangeSpec {
    RangeSpec::Rank { start, stop }
}

fn scores(min: ScoreBound, max: ScoreBound) -> RangeSpec {
    RangeSpec::Score(ScoreRange { min, max })
}

fn lex(min: LexBound, max: LexBound) -> RangeSpec {
    RangeSpec::Lex(LexRange { min, max })
}

fn inc(s: &str) -> LexBound {
    LexBound::Inclusive(b(s))
}

fn exc(s: &str) -> LexBound {
    LexBound::Exclusive(b(s))
}

/// A set as the set family stores it: one empty sub-key per member.
fn make_set(sh: &mut Shard, key: &str, members: &[&str]) {
    let mut c = collection::load_or_new(sh, key.as_bytes(), NOW, RedisType::Set).unwrap();
    for m in members {
        sh.sub_put(key.as_bytes(), c.version, m.as_bytes(), Vec::new());
        c.size += 1;
    }
    collection::store(sh, key.as_bytes(), RedisType::Set, &c);
}

#[test]
fn scores_format_like_redis_7_0() {
    for (v, want) in [
        (1.5, "1.5"),
        (3.0, "3"),
        (-2.25, "-2.25"),
        (0.1, "0.10000000000000001"),
        (1.1, "1.1000000000000001"),
        (1e20, "1e+20"),
        (1e17, "1e+17"),
        (1e16, "10000000000000000"),
        (123456789.0, "123456789"),
        (0.0001, "0.0001"),
        (1e-5, "1.0000000000000001e-05"),
        (-1.5e-300, "-1.5000000000000001e-300"),
        (f64::INFINITY, "inf"),
        (f64::NEG_INFINITY, "-inf"),
        (0.0, "0"),
    ] {
        assert_eq!(format_score(v), want, "{v:e}");
    }
}

#[test]
fn add_score_card_rem_and_wrongtype() {
    let (_d, mut sh) = shard();
    assert_eq!(
        add(&mut sh, "z", &[(1.5, "a"), (2.0, "b"), (1.5, "a")]),
        Output::Int(2)
    );
    assert_eq!(add(&mut sh, "z", &[(-0.0, "c")]), Output::Int(1));
    let score = |sh: &mut Shard, m: &str| {
        ok(
            sh,
            ZSetOp::Score {
                key: b("z"),
                member: b(m),
            },
        )
    };
    assert_eq!(score(&mut sh, "a"), bulk("1.5"));
    assert_eq!(score(&mut sh, "c"), bulk("0"));
    assert_eq!(score(&mut sh, "nope"), Output::Nil);
    let op = ZSetOp::MScore {
        key: b("z"),
        members: vec![b("b"), b("x")],
    };
    assert_eq!(ok(&mut sh, op), Output::Array(vec![bulk("2"), Output::Nil]));
    assert_eq!(ok(&mut sh, ZSetOp::Card(b("z"))), Output::Int(3));
    assert_eq!(
        sh.execute(Op::Type(b("z")), NOW).unwrap(),
        Output::Status("zset".into())
    );
    assert_eq!(sh.execute(Op::Get(b("z")), NOW), Err(OpError::WrongType));
    sh.execute(
        Op::Set {
            key: b("s"),
            value: b("v"),
            expiry: crate::op::SetExpiry::Clear,
            cond: crate::op::SetCond::Always,
            get: false,
        },
        NOW,
    )
    .unwrap();
    assert_eq!(
        add_with(&mut sh, "s", &[(1.0, "a")], AddFlags::default()),
        Err(OpError::WrongType)
    );
    assert_eq!(run(&mut sh, ZSetOp::Card(b("s"))), Err(OpError::WrongType));
    let op = ZSetOp::Rem {
        key: b("z"),
        members: vec![b("a"), b("a"), b("b"), b("c"), b("x")],
    };
    assert_eq!(ok(&mut sh, op), Output::Int(3));
    assert_eq!(
        sh.execute(Op::Exists(vec![b("z")]), NOW).unwrap(),
        Output::Int(0)
    );
    assert_eq!(sh.stats().keys, 1);
}

#[test]
fn add_flags_follow_zsetadd() {
    let (_d, mut sh) = shard();
    let f = |s: &str| {
        let mut f = AddFlags::default();
        for w in s.split_whitespace() {
            match w {
                "nx" => f.nx = true,
                "xx" => f.xx = true,
                "gt" => f.gt = true,
                "lt" => f.lt = true,
                "ch" => f.ch = true,
                "incr" => f.incr = true,
                _ => unreachable!(),
            }
        }
        f
    };
    // XX on a missing key creates nothing.
    assert_eq!(
        add_with(&mut sh, "z", &[(1.0, "a")], f("xx")),
        Ok(Output::Int(0))
    );
    assert_eq!(sh.stats().keys, 0);
    assert_eq!(add(&mut sh, "z", &[(1.0, "a"), (5.0, "b")]), Output::Int(2));
    assert_eq!(
        add_with(&mut sh, "z", &[(9.0, "a"), (1.0, "c")], f("nx")),
        Ok(Output::Int(1))
    );
    assert_eq!(
        add_with(&mut sh, "z", &[(2.0, "a"), (1.0, "d")], f("xx ch")),
        Ok(Output::Int(1))
    );
    assert_eq!(
        add_with(&mut sh, "z", &[(1.0, "a"), (6.0, "b")], f("gt ch")),
        Ok(Output::Int(1))
    );
    assert_eq!(
        add_with(&mut sh, "z", &[(3.0, "a"), (1.0, "b")], f("lt ch")),
        Ok(Output::Int(1))
    );
    // GT still adds new members.
    assert_eq!(
        add_with(&mut sh, "z", &[(7.0, "e")], f("gt")),
        Ok(Output::Int(1))
    );
    assert_eq!(
        all_entries(&sh, b"z", NOW).unwrap(),
        vec![
            (1.0, b"b".to_vec()),
            (1.0, b"c".to_vec()),
            (2.0, b"a".to_vec()),
            (7.0, b"e".to_vec())
        ]
    );
    assert_eq!(
        add_with(&mut sh, "z", &[(2.5, "a")], f("incr")),
        Ok(bulk("4.5"))
    );
    assert_eq!(
        add_with(&mut sh, "z", &[(1.0, "a")], f("incr nx")),
        Ok(Output::Nil)
    );
    assert_eq!(
        add_with(&mut sh, "z", &[(-1.0, "a")], f("incr gt")),
        Ok(Output::Nil)
    );
    assert_eq!(
        add_with(&mut sh, "z", &[(0.0, "a")], f("incr")),
        Ok(bulk("4.5"))
    );
    assert_eq!(
        add_with(&mut sh, "z", &[(2.0, "new")], f("incr xx")),
        Ok(Output::Nil)
    );
    assert_eq!(
        add_with(&mut sh, "z", &[(f64::INFINITY, "a")], f("incr")),
        Ok(bulk("inf"))
    );
    assert_eq!(
        add_with(&mut sh, "z", &[(f64::NEG_INFINITY, "a")], f("incr")),
        Err(OpError::ScoreNaN)
    );
    assert_eq!(
        add_with(&mut sh, "z", &[(f64::NAN, "a")], f("")),
        Err(OpError::ScoreNaN)
    );
    assert_eq!(ok(&mut sh, ZSetOp::Card(b("z"))), Output::Int(4));
}

#[test]
fn ranges_by_rank_score_and_lex() {
    let (_d, mut sh) = shard();
    add(
        &mut sh,
        "z",
        &[
            (1.0, "a"),
            (2.0, "b"),
            (2.0, "c"),
            (3.0, "d"),
            (f64::INFINITY, "e"),
            (-5.0, "f"),
        ],
    );
    assert_eq!(
        range(&mut sh, "z", ranks(0, -1), false, None),
        arr(&["f", "a", "b", "c", "d", "e"])
    );
    assert_eq!(
        range(&mut sh, "z", ranks(1, 2), false, None),
        arr(&["a", "b"])
    );
    assert_eq!(
        range(&mut sh, "z", ranks(-2, 100), false, None),
        arr(&["d", "e"])
    );
    assert_eq!(
        range(&mut sh, "z", ranks(4, 5), true, None),
        arr(&["a", "f"])
    );
    assert_eq!(
        range(&mut sh, "z", ranks(0, 1), true, None),
        arr(&["e", "d"])
    );
    assert_eq!(range(&mut sh, "z", ranks(3, 1), false, None), arr(&[]));
    assert_eq!(range(&mut sh, "z", ranks(6, 9), false, None), arr(&[]));
    assert_eq!(
        range(&mut sh, "z", scores(incl(2.0), incl(3.0)), false, None),
        arr(&["b", "c", "d"])
    );
    assert_eq!(
        range(&mut sh, "z", scores(excl(1.0), excl(3.0)), false, None),
        arr(&["b", "c"])
    );
    assert_eq!(
        range(
            &mut sh,
            "z",
            scores(incl(f64::NEG_INFINITY), incl(f64::INFINITY)),
            true,
            Some((1, 2))
        ),
        arr(&["d", "c"])
    );
    assert_eq!(
        range(
            &mut sh,
            "z",
            scores(incl(0.0), incl(f64::INFINITY)),
            false,
            Some((1, -1))
        ),
        arr(&["b", "c", "d", "e"])
    );
    assert_eq!(
        range(
            &mut sh,
            "z",
            scores(incl(0.0), incl(9.0)),
            false,
            Some((-1, 5))
        ),
        arr(&[])
    );
    assert_eq!(
        range(
            &mut sh,
            "z",
            scores(incl(0.0), incl(9.0)),
            false,
            Some((0, 0))
        ),
        arr(&[])
    );
    assert_eq!(
        range(&mut sh, "z", scores(excl(2.0), incl(2.0)), false, None),
        arr(&[])
    );
    assert_eq!(
        range(&mut sh, "z", scores(incl(3.0), incl(2.0)), false, None),
        arr(&[])
    );
    let q = RangeQuery {
        spec: scores(incl(2.0), incl(2.0)),
        rev: false,
        limit: None,
        withscores: true,
    };
    assert_eq!(
        ok(
            &mut sh,
            ZSetOp::Range {
                key: b("z"),
                query: q
            }
        ),
        arr(&["b", "2", "c", "2"])
    );
    let count = ZSetOp::Count {
        key: b("z"),
        range: ScoreRange {
            min: excl(1.0),
            max: incl(f64::INFINITY),
        },
    };
    assert_eq!(ok(&mut sh, count), Output::Int(4));

    // Lex ranges: every member the same score, as Redis requires.
    add(
        &mut sh,
        "l",
        &[(0.0, "a"), (0.0, "b"), (0.0, "c"), (0.0, "d"), (0.0, "e")],
    );
    assert_eq!(
        range(&mut sh, "l", lex(LexBound::Min, inc("c")), false, None),
        arr(&["a", "b", "c"])
    );
    assert_eq!(
        range(&mut sh, "l", lex(exc("a"), exc("d")), false, None),
        arr(&["b", "c"])
    );
    assert_eq!(
        range(&mut sh, "l", lex(inc("b"), LexBound::Max), true, None),
        arr(&["e", "d", "c", "b"])
    );
    assert_eq!(
        range(&mut sh, "l", lex(inc("aa"), inc("cc")), false, Some((1, 1))),
        arr(&["c"])
    );
    assert_eq!(
        range(&mut sh, "l", lex(inc("d"), inc("b")), false, None),
        arr(&[])
    );
    assert_eq!(
        range(&mut sh, "l", lex(LexBound::Max, LexBound::Min), false, None),
        arr(&[])
    );
    assert_eq!(
        range(
            &mut sh,
            "l",
            lex(LexBound::Min, LexBound::Max),
            true,
            Some((0, 2))
        ),
        arr(&["e", "d"])
    );
    let count = ZSetOp::LexCount {
        key: b("l"),
        range: LexRange {
            min: exc("a"),
            max: LexBound::Max,
        },
    };
    assert_eq!(ok(&mut sh, count), Output::Int(4));
    // Mixed scores: a walk from the start, as Redis's listpack does.
    assert_eq!(
        range(&mut sh, "z", lex(inc("b"), inc("d")), false, None),
        arr(&[])
    );
    assert_eq!(
        range(&mut sh, "z", lex(LexBound::Min, inc("b")), false, None),
        arr(&[])
    );
    assert_eq!(
        range(&mut sh, "z", lex(inc("a"), inc("g")), false, None),
        arr(&["f", "a", "b", "c", "d", "e"])
    );
    assert_eq!(
        range(&mut sh, "missing", ranks(0, -1), false, None),
        arr(&[])
    );
}

#[test]
fn rank_and_revrank() {
    let (_d, mut sh) = shard();
    add(
        &mut sh,
        "z",
        &[(1.0, "a"), (2.0, "b"), (2.0, "c"), (3.0, "d")],
    );
    let rank = |sh: &mut Shard, m: &str, rev: bool| {
        ok(
            sh,
            ZSetOp::Rank {
                key: b("z"),
                member: b(m),
                rev,
            },
        )
    };
    assert_eq!(rank(&mut sh, "a", false), Output::Int(0));
    assert_eq!(rank(&mut sh, "c", false), Output::Int(2));
    assert_eq!(rank(&mut sh, "c", true), Output::Int(1));
    assert_eq!(rank(&mut sh, "d", true), Output::Int(0));
    assert_eq!(rank(&mut sh, "x", false), Output::Nil);
}

#[test]
fn pop_and_remove_ranges() {
    let (_d, mut sh) = shard();
    let members: Vec<(f64, String)> = (0..10).map(|i| (i as f64, format!("m{i}"))).collect();
    let pairs: Vec<(f64, &str)> = members.iter().map(|(s, m)| (*s, m.as_str())).collect();
    add(&mut sh, "z", &pairs);
    let pop = |sh: &mut Shard, max: bool, count: u64| {
        ok(
            sh,
            ZSetOp::Pop {
                key: b("z"),
                max,
                count,
            },
        )
    };
    assert_eq!(pop(&mut sh, false, 2), arr(&["m0", "0", "m1", "1"]));
    assert_eq!(pop(&mut sh, true, 1), arr(&["m9", "9"]));
    assert_eq!(pop(&mut sh, true, 0), arr(&[]));
    let rem = |sh: &mut Shard, spec: RangeSpec| ok(sh, ZSetOp::RemRange { key: b("z"), spec });
    assert_eq!(rem(&mut sh, ranks(0, 1)), Output::Int(2)); // m2 m3
    assert_eq!(rem(&mut sh, scores(excl(4.0), incl(6.0))), Output::Int(2)); // m5 m6
    // Mixed scores: skip to the first member >= min, take while <= max.
    assert_eq!(rem(&mut sh, lex(inc("m7"), inc("m7"))), Output::Int(1));
    assert_eq!(rem(&mut sh, lex(inc("m4"), exc("m8"))), Output::Int(1));
    assert_eq!(range(&mut sh, "z", ranks(0, -1), false, None), arr(&["m8"]));
    assert_eq!(pop(&mut sh, false, u64::MAX), arr(&["m8", "8"]));
    assert_eq!(sh.stats().keys, 0);
    assert_eq!(pop(&mut sh, false, 1), arr(&[]));
}

#[test]
fn mpop_takes_the_first_key_with_members() {
    let (_d, mut sh) = shard();
    add(&mut sh, "b", &[(1.0, "x"), (2.0, "y")]);
    let mpop = |sh: &mut Shard, keys: &[&str], max: bool| {
        run(
            sh,
            ZSetOp::MPop {
                keys: keys.iter().map(|k| b(k)).collect(),
                max,
                count: 5,
                skip_wrong_type: false,
            },
        )
    };
    assert_eq!(mpop(&mut sh, &["none"], false), Ok(Output::Nil));
    assert_eq!(
        mpop(&mut sh, &["none", "b", "c"], true),
        Ok(Output::Array(vec![bulk("b"), arr(&["y", "2", "x", "1"])]))
    );
    assert_eq!(sh.stats().keys, 0);
    make_set(&mut sh, "s", &["m"]);
    add(&mut sh, "z", &[(1.0, "x")]);
    assert_eq!(mpop(&mut sh, &["s", "z"], false), Err(OpError::WrongType));
    let any = |sh: &mut Shard, keys: &[&str]| {
        ok(sh, ZSetOp::AnyNonEmpty(keys.iter().map(|k| b(k)).collect()))
    };
    assert_eq!(any(&mut sh, &["s", "none", "z"]), Output::Int(1));
    let skip = ZSetOp::MPop {
        keys: vec![b("s"), b("z")],
        max: false,
        count: 1,
        skip_wrong_type: true,
    };
    assert_eq!(
        ok(&mut sh, skip),
        Output::Array(vec![bulk("z"), arr(&["x", "1"])])
    );
    assert_eq!(any(&mut sh, &["s", "none", "z"]), Output::Int(0));
}

#[test]
fn rangestore_and_store_replace_the_destination() {
    let (_d, mut sh) = shard();
    add(&mut sh, "src", &[(1.0, "a"), (2.0, "b"), (3.0, "c")]);
    add(&mut sh, "dst", &[(9.0, "old")]);
    sh.execute(
        Op::Expire {
            key: b("dst"),
            at_ms: NOW + 100_000,
            cond: crate::op::ExpireCond::Always,
        },
        NOW,
    )
    .unwrap();
    let q = |spec| RangeQuery {
        spec,
        rev: true,
        limit: None,
        withscores: false,
    };
    let op = ZSetOp::RangeStore {
        dst: b("dst"),
        src: b("src"),
        query: q(scores(incl(2.0), incl(5.0))),
    };
    assert_eq!(ok(&mut sh, op), Output::Int(2));
    assert_eq!(
        all_entries(&sh, b"dst", NOW).unwrap(),
        vec![(2.0, b"b".to_vec()), (3.0, b"c".to_vec())]
    );
    assert_eq!(
        sh.execute(Op::Pttl(b("dst")), NOW).unwrap(),
        Output::Int(-1)
    );
    // Source and destination the same key.
    let op = ZSetOp::RangeStore {
        dst: b("src"),
        src: b("src"),
        query: q(ranks(0, 0)),
    };
    assert_eq!(ok(&mut sh, op), Output::Int(1));
    assert_eq!(
        all_entries(&sh, b"src", NOW).unwrap(),
        vec![(3.0, b"c".to_vec())]
    );
    // An empty result deletes the destination.
    let op = ZSetOp::RangeStore {
        dst: b("dst"),
        src: b("missing"),
        query: q(ranks(0, -1)),
    };
    assert_eq!(ok(&mut sh, op), Output::Int(0));
    assert_eq!(
        sh.execute(Op::Exists(vec![b("dst")]), NOW).unwrap(),
        Output::Int(0)
    );
    let op = ZSetOp::Store {
        key: b("dst"),
        pairs: vec![(b("x"), 1.0), (b("x"), 2.0), (b("y"), -0.0)],
    };
    assert_eq!(ok(&mut sh, op), Output::Int(2));
    assert_eq!(
        all_entries(&sh, b"dst", NOW).unwrap(),
        vec![(0.0, b"y".to_vec()), (1.0, b"x".to_vec())]
    );
    assert_eq!(sh.stats().keys, 2);
}

#[test]
fn union_inter_diff_with_weights_and_sets() {
    let (_d, mut sh) = shard();
    add(&mut sh, "a", &[(1.0, "x"), (2.0, "y"), (3.0, "z")]);
    add(
        &mut sh,
        "b",
        &[(10.0, "y"), (20.0, "z"), (f64::INFINITY, "w")],
    );
    make_set(&mut sh, "s", &["y", "q"]);
    let combine = |sh: &mut Shard, algebra, keys: &[&str], weights: Vec<f64>, aggregate| {
        ok(
            sh,
            ZSetOp::Combine {
                dst: None,
                algebra,
                keys: keys.iter().map(|k| b(k)).collect(),
                weights,
                aggregate,
            },
        )
    };
    assert_eq!(
        combine(
            &mut sh,
            SetAlgebra::Union,
            &["a", "b"],
            vec![],
            Aggregate::Sum
        ),
        arr(&["x", "1", "y", "12", "z", "23", "w", "inf"])
    );
    assert_eq!(
        combine(
            &mut sh,
            SetAlgebra::Union,
            &["a", "b"],
            vec![1.0, -1.0],
            Aggregate::Max
        ),
        arr(&["w", "-inf", "x", "1", "y", "2", "z", "3"])
    );
    assert_eq!(
        combine(
            &mut sh,
            SetAlgebra::Inter,
            &["a", "b", "s"],
            vec![2.0, 1.0, 5.0],
            Aggregate::Sum
        ),
        arr(&["y", "19"])
    );
    assert_eq!(
        combine(
            &mut sh,
            SetAlgebra::Inter,
            &["a", "b"],
            vec![],
            Aggregate::Min
        ),
        arr(&["y", "2", "z", "3"])
    );
    assert_eq!(
        combine(
            &mut sh,
            SetAlgebra::Inter,
            &["a", "missing"],
            vec![],
            Aggregate::Sum
        ),
        arr(&[])
    );
    assert_eq!(
        combine(
            &mut sh,
            SetAlgebra::Diff,
            &["a", "s"],
            vec![],
            Aggregate::Sum
        ),
        arr(&["x", "1", "z", "3"])
    );
    // inf * 0 and inf + -inf are 0 by Redis's convention.
    assert_eq!(
        combine(
            &mut sh,
            SetAlgebra::Union,
            &["b"],
            vec![0.0],
            Aggregate::Sum
        ),
        arr(&["w", "0", "y", "0", "z", "0"])
    );
    let op = ZSetOp::Combine {
        dst: Some(b("a")),
        algebra: SetAlgebra::Union,
        keys: vec![b("a"), b("s")],
        weights: vec![],
        aggregate: Aggregate::Sum,
    };
    assert_eq!(ok(&mut sh, op), Output::Int(4));
    assert_eq!(
        all_entries(&sh, b"a", NOW).unwrap(),
        vec![
            (1.0, b"q".to_vec()),
            (1.0, b"x".to_vec()),
            (3.0, b"y".to_vec()),
            (3.0, b"z".to_vec())
        ]
    );
    assert_eq!(
        ok(&mut sh, ZSetOp::Members(b("s"))),
        arr(&["q", "1", "y", "1"])
    );
    assert_eq!(
        ok(
            &mut sh,
            ZSetOp::CheckInputs(vec![b("a"), b("s"), b("none")])
        ),
        Output::Ok
    );
    add(&mut sh, "h", &[(1.0, "x")]);
    sh.execute(
        Op::HSet {
            key: b("hash"),
            pairs: vec![(b("f"), b("v"))],
            nx: false,
        },
        NOW,
    )
    .unwrap();
    assert_eq!(
        run(&mut sh, ZSetOp::CheckInputs(vec![b("a"), b("hash")])),
        Err(OpError::WrongType)
    );
    assert_eq!(
        run(&mut sh, ZSetOp::Members(b("hash"))),
        Err(OpError::WrongType)
    );
}

#[test]
fn randmember_counts() {
    let (_d, mut sh) = shard();
    add(&mut sh, "z", &[(1.0, "a"), (2.0, "b"), (3.0, "c")]);
    let rand = |sh: &mut Shard, count, withscores| {
        ok(
            sh,
            ZSetOp::RandMember {
                key: b("z"),
                count,
                withscores,
            },
        )
    };
    match rand(&mut sh, None, false) {
        Output::Bulk(m) => assert!(["a", "b", "c"].contains(&std::str::from_utf8(&m).unwrap())),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        rand(&mut sh, Some(5), true),
        arr(&["c", "3", "b", "2", "a", "1"])
    );
    assert_eq!(rand(&mut sh, Some(0), false), arr(&[]));
    let Output::Array(two) = rand(&mut sh, Some(2), false) else {
        panic!()
    };
    assert_eq!(two.len(), 2);
    assert_ne!(two[0], two[1]);
    let Output::Array(many) = rand(&mut sh, Some(-7), true) else {
        panic!()
    };
    assert_eq!(many.len(), 14);
    let op = ZSetOp::RandMember {
        key: b("none"),
        count: None,
        withscores: false,
    };
    assert_eq!(ok(&mut sh, op), Output::Nil);
}

/// A zset too big to walk per pick samples its members: each answer is a
/// real member with its own score, distinct where the count asks for it.
#[test]
fn randmember_samples_big_zsets() {
    let (_d, mut sh) = shard();
    let n = crate::types::sample::EXACT_UP_TO * 8;
    let names: Vec<String> = (0..n).map(|i| format!("m:{i:05}")).collect();
    let pairs: Vec<(f64, &str)> = names
        .iter()
        .enumerate()
        .map(|(i, m)| (i as f64 / 2.0, m.as_str()))
        .collect();
    add(&mut sh, "z", &pairs);
    let score = |m: &str| m[2..].parse::<f64>().unwrap() / 2.0;
    let rand = |sh: &mut Shard, count| {
        ok(
            sh,
            ZSetOp::RandMember {
                key: b("z"),
                count,
                withscores: true,
            },
        )
    };
    let check = |flat: Vec<Output>| -> Vec<String> {
        flat.chunks(2)
            .map(|p| {
                let (Output::Bulk(m), Output::Bulk(s)) = (&p[0], &p[1]) else {
                    panic!("{p:?}")
                };
                let m = std::str::from_utf8(m).unwrap().to_string();
                let s: f64 = std::str::from_utf8(s).unwrap().parse().unwrap();
                assert_eq!(s, score(&m), "{m} came with another member's score");
                m
            })
            .collect()
    };
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..20 {
        let Output::Array(flat) = rand(&mut sh, Some(4)) else {
            panic!()
        };
        let picked = check(flat);
        assert_eq!(picked.len(), 4);
        assert_eq!(
            picked
                .iter()
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            4
        );
        seen.extend(picked);
    }
    assert!(
        seen.len() > 40,
        "picks cluster: {} distinct of 80",
        seen.len()
    );
    let Output::Array(flat) = rand(&mut sh, Some(-9)) else {
        panic!()
    };
    assert_eq!(check(flat).len(), 9);
    let one = ok(
        &mut sh,
        ZSetOp::RandMember {
            key: b("z"),
            count: None,
            withscores: false,
        },
    );
    let Output::Bulk(m) = one else {
        panic!("{one:?}")
    };
    assert!(names.contains(&String::from_utf8(m.to_vec()).unwrap()));
}

#[test]
fn delete_then_recreate_does_not_resurrect_members() {
    let (_d, mut sh) = shard();
    add(&mut sh, "z", &[(1.0, "old")]);
    sh.execute(Op::Del(vec![b("z")]), NOW).unwrap();
    add(&mut sh, "z", &[(2.0, "new")]);
    assert_eq!(
        range(&mut sh, "z", ranks(0, -1), false, None),
        arr(&["new"])
    );
    assert_eq!(ok(&mut sh, ZSetOp::Card(b("z"))), Output::Int(1));
}

#[test]
fn integral_scores_take_the_short_path_with_the_same_text() {
    let edges = [
        1.0,
        9.0,
        10.0,
        99.0,
        1e15,
        9007199254740993.0,
        1e16,
        99999999999999984.0,
    ];
    for v in edges.iter().flat_map(|&v| [v, -v]) {
        assert_eq!(format_score(v), format_score_general(v), "{v}");
    }
    for i in (1..200_000i64).step_by(7) {
        let v = i as f64 * 1234.0;
        assert_eq!(format_score(v), format_score_general(v), "{v}");
    }
}

proptest! {
    #[test]
    fn integral_scores_format_as_the_general_path(i: i64) {
        let v = (i >> 8) as f64; // up to ~3.6e16: below and around 1e17
        prop_assume!(v != 0.0);
        prop_assert_eq!(format_score(v), format_score_general(v));
    }

    #[test]
    fn scores_read_back_exactly(bits: u64) {
        let v = f64::from_bits(bits);
        prop_assume!(!v.is_nan());
        let text = format_score(v);
        let back: f64 = text.parse().unwrap();
        prop_assert_eq!(back.to_bits(), v.to_bits(), "{}", text);
    }

    #[test]
    fn score_encoding_keeps_order(a: f64, b: f64) {
        prop_assume!(!a.is_nan() && !b.is_nan());
        prop_assert_eq!(decode_score(encode_score(a)), normalize(a));
        if a < b {
            prop_assert!(encode_score(a) < encode_score(b));
        }
    }

    /// Random ZADD/ZREM/ZINCRBY/ZPOP/ZREMRANGEBYSCORE sequences agree with a
    /// BTreeMap model, committed or not, and so do ranks and score ranges
    /// afterwards.
    #[test]
    fn matches_a_model(cmds in proptest::collection::vec((0u8..5, 0u8..8, -4i32..5), 1..60)) {
        let (_d, mut sh) = shard();
        let mut model: BTreeMap<Vec<u8>, f64> = BTreeMap::new();
        let sorted = |model: &BTreeMap<Vec<u8>, f64>| {
            let mut v: Vec<(f64, Vec<u8>)> = model.iter().map(|(m, s)| (*s, m.clone())).collect();
            v.sort_by(|x, y| x.0.total_cmp(&y.0).then_with(|| x.1.cmp(&y.1)));
            v
        };
        for (kind, m, n) in cmds {
            let member = vec![b'a' + m];
            let score = f64::from(n) / 2.0;
            match kind {
                0 => {
                    add_with(&mut sh, "z", &[(score, std::str::from_utf8(&member).unwrap())], AddFlags::default()).unwrap();
                    model.insert(member, score);
                }
                1 => {
                    ok(&mut sh, ZSetOp::Rem { key: b("z"), members: vec![Bytes::from(member.clone())] });
                    model.remove(&member);
                }
                2 => {
                    let flags = AddFlags { incr: true, ..AddFlags::default() };
                    let got = add_with(&mut sh, "z", &[(score, std::str::from_utf8(&member).unwrap())], flags).unwrap();
                    let v = model.entry(member).or_insert(0.0);
                    *v += score;
                    prop_assert_eq!(got, bulk(&format_score(*v)));
                }
                3 => {
                    let count = n.unsigned_abs() as u64;
                    let got = ok(&mut sh, ZSetOp::Pop { key: b("z"), max: n < 0, count });
                    let mut all = sorted(&model);
                    if n < 0 { all.reverse(); }
                    let mut want = Vec::new();
                    for (s, m) in all.into_iter().take(count as usize) {
                        model.remove(&m);
                        want.push(Output::Bulk(Bytes::from(m)));
                        want.push(bulk(&format_score(s)));
                    }
                    prop_assert_eq!(got, Output::Array(want));
                }
                _ => {
                    let r = ScoreRange { min: incl(score), max: excl(score + 1.0) };
                    let got = ok(&mut sh, ZSetOp::RemRange { key: b("z"), spec: RangeSpec::Score(r) });
                    let before = model.len();
                    model.retain(|_, s| !r.contains(*s));
                    prop_assert_eq!(got, Output::Int((before - model.len()) as i64));
                }
            }
            prop_assert_eq!(ok(&mut sh, ZSetOp::Card(b("z"))), Output::Int(model.len() as i64));
            // Committing now and then, and reading each range twice, makes
            // the reads fill and then use the shard's scan cache across
            // later writes.
            if n % 2 == 0 {
                sh.commit().unwrap();
            }
            let names: Vec<Vec<u8>> = sorted(&model).into_iter().map(|(_, m)| m).collect();
            let want: Vec<&str> = names.iter().map(|m| std::str::from_utf8(m).unwrap()).collect();
            let top: Vec<&str> = want.iter().rev().take(2).copied().collect();
            for _ in 0..2 {
                prop_assert_eq!(range(&mut sh, "z", ranks(0, -1), false, None), arr(&want));
                prop_assert_eq!(range(&mut sh, "z", ranks(0, 1), true, None), arr(&top));
            }
        }
        sh.commit().unwrap();
        let all = sorted(&model);
        prop_assert_eq!(all_entries(&sh, b"z", NOW).unwrap(), all.clone());
        for (i, (_, m)) in all.iter().enumerate() {
            let fwd = ok(&mut sh, ZSetOp::Rank { key: b("z"), member: Bytes::from(m.clone()), rev: false });
            prop_assert_eq!(fwd, Output::Int(i as i64));
            let rev = ok(&mut sh, ZSetOp::Rank { key: b("z"), member: Bytes::from(m.clone()), rev: true });
            prop_assert_eq!(rev, Output::Int((all.len() - 1 - i) as i64));
        }
        for (start, stop) in [(0, -1), (1, 3), (-3, -1), (2, 1)] {
            let want: Vec<&str> = match read::clamp_ranks(start, stop, all.len() as u64) {
                Some((s, e)) => all[s as usize..=e as usize].iter().map(|(_, m)| std::str::from_utf8(m).unwrap()).collect(),
                None => Vec::new(),
            };
            prop_assert_eq!(range(&mut sh, "z", ranks(start, stop), false, None), arr(&want));
            let mut rev_all: Vec<&str> = all.iter().rev().map(|(_, m)| std::str::from_utf8(m).unwrap()).collect();
            rev_all = match read::clamp_ranks(start, stop, all.len() as u64) {
                Some((s, e)) => rev_all[s as usize..=e as usize].to_vec(),
                None => Vec::new(),
            };
            prop_assert_eq!(range(&mut sh, "z", ranks(start, stop), true, None), arr(&rev_all));
        }
        let r = ScoreRange { min: excl(-1.0), max: incl(1.5) };
        let want: Vec<&str> = all.iter().filter(|(s, _)| r.contains(*s)).map(|(_, m)| std::str::from_utf8(m).unwrap()).collect();
        let limited: Vec<&str> = want.iter().skip(1).take(2).copied().collect();
        prop_assert_eq!(range(&mut sh, "z", RangeSpec::Score(r), false, Some((1, 2))), arr(&limited));
        let count = ok(&mut sh, ZSetOp::Count { key: b("z"), range: r });
        prop_assert_eq!(count, Output::Int(want.len() as i64));
    }
}
