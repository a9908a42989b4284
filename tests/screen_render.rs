//! The screenshot renderer turns a coloured terminal capture into a PNG of the right size.

mod support;

#[test]
fn ansi_capture_renders_to_png() {
    let ansi = b"\x1b[1;32mMASTER\x1b[0m VI_1 prio 100\n\x1b[41;37m down \x1b[0m 10.0.0.1:80";
    let svg = support::screen::svg(ansi, 40, 3);
    assert!(
        svg.contains(">MASTER</text>") && svg.contains("font-weight='bold'"),
        "{svg}"
    );
    assert!(
        svg.contains("fill='rgb(204,51,51)'"),
        "red background of `down`:\n{svg}"
    );
    let path = std::env::temp_dir().join(format!("lvsdeck-screen-{}.png", std::process::id()));
    support::screen::png(ansi, 40, 3, &path);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).ok();
    assert_eq!(&bytes[1..4], b"PNG");
}
