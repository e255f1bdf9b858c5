//! `modinit::record`: the boot record read back, line by line and as a whole, and what
//! `modinit blame` prints of it.
//!
//! Input: a record's text. Every line either parses or is refused; a console line's text,
//! escaped again as the writer escapes it, reads back the same; a record that reads as a whole
//! gives inserts the slowest first and a critical chain in which each link ended before the
//! one above it started.

use modinit::kernel::kmsg::Level;
use modinit::record::blame::Phase;
use modinit::record::entry::{ConsoleLine, Entry, parse, unescaped};

pub fn fuzz(data: &[u8]) {
    for line in data.split(|&b| b == b'\n') {
        let Ok((_, entry)) = parse(line) else { continue };
        if let Entry::Console { text, .. } | Entry::Kernel { text, .. } = entry {
            crate::assert_within(data, text, "a line's text");
            let decoded: Vec<u8> = unescaped(text).collect();
            let again = format!("0.000000 {}", ConsoleLine { level: Level::Info, text: &decoded });
            let Ok((_, Entry::Console { text: reread, .. })) = parse(again.as_bytes()) else {
                panic!("a console line made from {decoded:?} does not parse: {again:?}")
            };
            assert_eq!(unescaped(reread).collect::<Vec<u8>>(), decoded, "{again:?}");
        }
    }
    let Ok(phase) = Phase::<256>::read(data) else { return };
    let mut order = heapless::Vec::new();
    phase.slowest(&mut order);
    assert_eq!(order.len(), phase.inserts.len());
    assert!(order.windows(2).all(|w| phase.inserts[w[0]].micros() >= phase.inserts[w[1]].micros()));
    phase.critical_chain(&mut order);
    for w in order.windows(2) {
        let (above, below) = (&phase.inserts[w[0]], &phase.inserts[w[1]]);
        assert!(below.end <= above.start && above.needs().any(|n| n == below.name), "{above:?} after {below:?}");
    }
    let mut printed = 0;
    modinit::toolbox::blame_output::report(&phase, &mut |args| printed += args.to_string().len());
    assert!(printed > 0);
}
