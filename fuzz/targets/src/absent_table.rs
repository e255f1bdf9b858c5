//! `modinit::absent::table::AbsentTable::open` on any bytes, then matching over whatever opens:
//! every name a match gives is a module line of the table, and one pass for many keys gives
//! what a pass per key gives. Keys come from the table's own aliases (their literal parts, and
//! with wildcards filled) and from the input's lines.

use modinit::absent::table::AbsentTable;

/// Keys per table: enough to reach every branch, few enough to keep executions fast.
const MAX_KEYS: usize = 32;

pub fn fuzz(data: &[u8]) {
    let Ok(table) = AbsentTable::open(data) else { return };
    crate::assert_within(data, table.release(), "the release");
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let modules: Vec<&[u8]> = lines.iter().skip(1).copied().filter(|l| !l.starts_with(b"\t")).collect();
    let mut keys: Vec<Vec<u8>> = Vec::new();
    for line in lines.iter().take(MAX_KEYS) {
        let alias = line.strip_prefix(b"\t").unwrap_or(line);
        keys.push(alias.to_vec());
        keys.push(alias.iter().map(|&b| if matches!(b, b'*' | b'?' | b'[' | b']') { b'x' } else { b }).collect());
    }
    let keys: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    let mut together = vec![Vec::new(); keys.len()];
    table.for_each_match_of(&keys, |i, name| together[i].push(name));
    for (key, together) in keys.iter().zip(together) {
        let mut alone = Vec::new();
        table.for_each_match(key, |name| alone.push(name));
        assert_eq!(alone, together, "one pass for many keys, one per key");
        for name in alone {
            assert!(modules.contains(&name), "a match names a module of the table");
            crate::assert_within(data, name, "a module name");
        }
    }
}
