use super::*;

fn cmp(f: Field, op: Op, v: Value) -> Expr {
    Expr::Cmp(f, op, v)
}

fn and(a: Expr, b: Expr) -> Expr {
    Expr::And(Box::new(a), Box::new(b))
}

fn or(a: Expr, b: Expr) -> Expr {
    Expr::Or(Box::new(a), Box::new(b))
}

fn not(a: Expr) -> Expr {
    Expr::Not(Box::new(a))
}

#[test]
fn visor_example() {
    let e = parse("(sport>=80 and sport<=443) and ip_dst=='192.0.2.14' and dport not in (80,443)")
        .unwrap();
    let expected = and(
        and(
            and(
                cmp(Field::Sport, Op::Ge, Value::Number(80)),
                cmp(Field::Sport, Op::Le, Value::Number(443)),
            ),
            cmp(
                Field::IpDst,
                Op::Eq,
                Value::Net("192.0.2.14".parse().unwrap(), 32),
            ),
        ),
        not(or(
            cmp(Field::Dport, Op::Eq, Value::Number(80)),
            cmp(Field::Dport, Op::Eq, Value::Number(443)),
        )),
    );
    assert_eq!(e, expected);
}

#[test]
fn precedence_and_binds_tighter_than_or_and_not_tightest() {
    let e = parse("not verdict == drop or dport == 1 and proto == udp").unwrap();
    assert_eq!(
        e,
        or(
            not(cmp(Field::Verdict, Op::Eq, Value::Text("drop".into()))),
            and(
                cmp(Field::Dport, Op::Eq, Value::Number(1)),
                cmp(Field::Proto, Op::Eq, Value::Number(17)),
            ),
        )
    );
}

#[test]
fn values_typed_by_field() {
    assert_eq!(
        parse("ip_src == 2001:db8::/32").unwrap(),
        cmp(
            Field::IpSrc,
            Op::Eq,
            Value::Net("2001:db8::".parse().unwrap(), 32)
        )
    );
    assert_eq!(
        parse("verdict == 'policy drop' and hw-src != \"0a:00:00:00:00:01\"").unwrap(),
        and(
            cmp(Field::Verdict, Op::Eq, Value::Text("policy drop".into())),
            cmp(
                Field::HwSrc,
                Op::Ne,
                Value::Text("0a:00:00:00:00:01".into())
            ),
        )
    );
    assert_eq!(
        parse("jt in (accept_web)").unwrap(),
        cmp(Field::Jt, Op::Eq, Value::Text("accept_web".into()))
    );
    assert_eq!(parse("  ").unwrap(), Expr::True);
}

#[test]
fn errors_say_where_and_what() {
    let e = parse("dport == ").unwrap_err();
    assert_eq!((e.position, e.expected.as_str()), (9, "a value"));
    let e = parse("dport = 80").unwrap_err();
    assert_eq!(e.position, 6);
    let e = parse("sport >= 80 and (dport == 1").unwrap_err();
    assert_eq!((e.position, e.expected.as_str()), (27, "')'"));
    let e = parse("port == 1").unwrap_err();
    assert_eq!(e.position, 0);
    assert!(e.expected.starts_with("a field"), "{e}");
    let e = parse("dport == http").unwrap_err();
    assert_eq!((e.position, e.expected.as_str()), (9, "a number"));
    let e = parse("ip_dst == 10.0.0.0/33").unwrap_err();
    assert_eq!(e.position, 10);
    let e = parse("ip_dst < 10.0.0.1").unwrap_err();
    assert_eq!(e.position, 7);
    let e = parse("dport not (1)").unwrap_err();
    assert_eq!((e.position, e.expected.as_str()), (10, "'in'"));
    let e = parse("dport in (1 2)").unwrap_err();
    assert_eq!((e.position, e.expected.as_str()), (12, "',' or ')'"));
    let e = parse("table == 'x").unwrap_err();
    assert_eq!((e.position, e.found.as_str()), (9, "the end"));
    let e = parse("dport == 1 dport == 2").unwrap_err();
    assert_eq!(
        (e.position, e.expected.as_str()),
        (11, "'and', 'or' or the end")
    );
    let e = parse("dport == 1; drop table traces").unwrap_err();
    assert_eq!(e.position, 10);
}

#[test]
fn lists_or_within_and_between() {
    let e = from_lists([(Field::Dport, "53, 80"), (Field::Verdict, "drop")]).unwrap();
    assert_eq!(
        e,
        and(
            or(
                cmp(Field::Dport, Op::Eq, Value::Number(53)),
                cmp(Field::Dport, Op::Eq, Value::Number(80)),
            ),
            cmp(Field::Verdict, Op::Eq, Value::Text("drop".into())),
        )
    );
    assert_eq!(from_lists([(Field::Dport, "")]).unwrap(), Expr::True);
    assert!(from_lists([(Field::Sport, "x")]).is_err());
}
