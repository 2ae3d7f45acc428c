//! The header's `#define`s and the crate's ABI constants agree, value for
//! value, in both directions; so do the enums built on them.

use remotemedia_runtime::abi;
use remotemedia_runtime::resample::Quality;
use remotemedia_runtime::{Error, Status};
use std::collections::BTreeMap;

const HEADER: &str = include_str!("../include/remotemedia_runtime.h");

/// `#define NAME VALUE` lines with an integer value (the include guard has none).
fn header_defines() -> BTreeMap<String, i64> {
    HEADER
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            if words.next() != Some("#define") {
                return None;
            }
            let name = words.next()?.to_string();
            let value = words.next()?.parse::<i64>().ok()?;
            Some((name, value))
        })
        .collect()
}

#[test]
fn every_header_constant_has_the_same_value_in_rust_and_back() {
    let header = header_defines();
    let rust: BTreeMap<String, i64> = abi::ALL.iter().map(|&(n, v)| (n.to_string(), v)).collect();
    assert!(header.len() >= 16, "parsed too few #defines: {header:?}");
    assert_eq!(
        header, rust,
        "header #defines (left) differ from remotemedia_runtime::abi::ALL (right)"
    );
}

#[test]
fn enums_use_the_header_values() {
    let header = header_defines();
    let statuses = [
        ("RM_OK", Status::Ok),
        ("RM_ERR_INVALID_ARGUMENT", Status::InvalidArgument),
        ("RM_ERR_NULL_POINTER", Status::NullPointer),
        ("RM_ERR_BUFFER_TOO_SMALL", Status::BufferTooSmall),
        ("RM_ERR_ALLOCATION", Status::Allocation),
        ("RM_ERR_STATE", Status::State),
        ("RM_ERR_PANIC", Status::Panic),
    ];
    for (name, status) in statuses {
        assert_eq!(header[name], status as i64, "{name}");
    }
    assert_eq!(Error::State(String::new()).status() as i64, header["RM_ERR_STATE"]);
    let qualities = [
        ("RM_QUALITY_LOW", Quality::Low),
        ("RM_QUALITY_MEDIUM", Quality::Medium),
        ("RM_QUALITY_HIGH", Quality::High),
        ("RM_QUALITY_VERY_HIGH", Quality::VeryHigh),
    ];
    for (name, q) in qualities {
        assert_eq!(Quality::from_code(header[name] as i32).unwrap(), q, "{name}");
    }
    assert_eq!(header["RM_ABI_VERSION"], remotemedia_runtime::ABI_VERSION as i64);
}
