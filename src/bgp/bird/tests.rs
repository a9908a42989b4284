use super::*;

/// Bytes BIRD 2.0.12 sent for `show protocols` (captured from its control socket).
const SHOW_PROTOCOLS: &str = "2002-Name       Proto      Table      State  Since         Info\n\
1002-device1    Device     ---        up     07:59:35.358  \n \
kernel1    Kernel     master4    up     07:59:35.358  \n \
lvsdeck_r1 BGP        ---        up     07:59:39.667  Established   \n \
lvsdeck_r2 BGP        ---        start  08:01:19.279  Active        Socket: Connection refused\n \
lvsdeck_vip4 Static     master4    up     2026-12-02 07:59:35  \n\
0000 \n";

fn parse(text: &str) -> Reply {
    let mut p = ReplyParser::default();
    let mut out = None;
    for line in text.split_inclusive('\n') {
        assert!(out.is_none(), "lines after the reply's end: {line:?}");
        out = p.push(line).unwrap();
    }
    out.expect("a whole reply")
}

#[test]
fn a_reply_ends_at_the_line_whose_code_has_a_space() {
    let r = parse(SHOW_PROTOCOLS);
    assert_eq!(r.code(), 0);
    assert!(!r.is_error());
    assert_eq!(r.lines.len(), 7);
    // A continuation line keeps the code of the line before it.
    assert_eq!(r.lines[2].code, 1002);
}

#[test]
fn show_protocols_gives_state_since_and_info() {
    let rows = protocols(&parse(SHOW_PROTOCOLS));
    let names: Vec<&str> = rows.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "device1",
            "kernel1",
            "lvsdeck_r1",
            "lvsdeck_r2",
            "lvsdeck_vip4"
        ]
    );
    assert_eq!(rows[2].state, "up");
    assert_eq!(rows[2].since, "07:59:39.667");
    assert_eq!(rows[2].info, "Established");
    assert_eq!(rows[3].state, "start");
    assert_eq!(rows[3].info, "Active Socket: Connection refused");
    assert_eq!(rows[4].since, "2026-12-02 07:59:35");
    assert_eq!(rows[4].info, "");
}

#[test]
fn configure_errors_are_errors_with_their_place() {
    let r = parse(
        "0002-Reading configuration from /etc/bird/bird.conf\n\
         8002 /run/lvsdeck/bird.conf:38:1 syntax error, unexpected GARBAGE\n",
    );
    assert!(r.is_error());
    assert!(r.text().contains("bird.conf:38:1"), "{}", r.text());
    let ok = parse("0002-Reading configuration from /etc/bird/bird.conf\n0003 Reconfigured\n");
    assert_eq!(ok.code(), 3);
    assert!(!ok.is_error());
}

#[test]
fn spontaneous_lines_and_garbage() {
    let mut p = ReplyParser::default();
    assert_eq!(p.push("+0000 something happened\n").unwrap(), None);
    assert!(p.push(" a continuation first\n").is_err());
    assert!(p.push("BIRD? no\n").is_err());
    assert!(p.push("0001x odd\n").is_err());
    assert_eq!(
        p.push("0001 BIRD 2.0.12 ready.\n").unwrap().unwrap().code(),
        1
    );
}
