//! The resampler's modules depend one way (docs/architecture.md): each
//! module names only modules below it. Reads the sources, so a new upward
//! `super::` path fails here before it becomes a cycle.

/// Bottom up; `mod.rs` (the top) may use them all.
const ORDER: [(&str, &str); 13] = [
    ("design", include_str!("../src/resample/design.rs")),
    ("fft", include_str!("../src/resample/fft.rs")),
    ("fft32", include_str!("../src/resample/fft32.rs")),
    ("dot", include_str!("../src/resample/dot.rs")),
    ("next", include_str!("../src/resample/next.rs")),
    ("lanes", include_str!("../src/resample/lanes.rs")),
    ("blocks", include_str!("../src/resample/blocks.rs")),
    ("front32", include_str!("../src/resample/front32.rs")),
    ("interp", include_str!("../src/resample/interp.rs")),
    ("plan", include_str!("../src/resample/plan.rs")),
    ("stage", include_str!("../src/resample/stage.rs")),
    ("exact", include_str!("../src/resample/exact.rs")),
    ("oversampled", include_str!("../src/resample/oversampled.rs")),
];

/// Sibling modules a source names through `super::<module>` (outside comments
/// and before its `#[cfg(test)]` module: a test may build its case from any
/// module, as `front32`'s does from the plan).
fn siblings_named(src: &str) -> Vec<&'static str> {
    let mut found = Vec::new();
    let code_part = src.split("#[cfg(test)]").next().unwrap_or(src);
    for line in code_part.lines() {
        let code = line.split("//").next().unwrap_or("");
        for (name, _) in ORDER {
            let pat = format!("super::{name}");
            let hit = code.match_indices(&pat).any(|(i, _)| {
                let next = code[i + pat.len()..].chars().next();
                !matches!(next, Some(c) if c.is_alphanumeric() || c == '_')
            });
            if hit && !found.contains(&name) {
                found.push(name);
            }
        }
    }
    found
}

#[test]
fn resample_modules_only_use_modules_below_them() {
    let rank = |name: &str| ORDER.iter().position(|(n, _)| *n == name).unwrap();
    for (name, src) in ORDER {
        for used in siblings_named(src) {
            assert!(
                rank(used) < rank(name) || used == name,
                "src/resample/{name}.rs uses `super::{used}`, which is not below it in {:?}",
                ORDER.map(|(n, _)| n)
            );
        }
    }
    // The leaf stays a leaf, and the plan is the only place that names kernels' tables.
    assert!(
        siblings_named(ORDER[0].1).is_empty(),
        "design.rs must not use its siblings"
    );
    let stage = ORDER.iter().find(|(n, _)| *n == "stage").unwrap().1;
    assert!(siblings_named(stage).contains(&"plan"));
    // No module below the top reaches the top's items either (the
    // `Resampler`, the rate and channel checks): they sit above them all.
    const TOP: [&str; 7] = [
        "Resampler",
        "MAX_CHANNELS",
        "MIN_RATE",
        "MAX_RATE",
        "check_rate",
        "one_shot_frames",
        "resample(",
    ];
    for (name, src) in ORDER {
        for line in src.lines() {
            let code = line.split("//").next().unwrap_or("");
            for item in TOP {
                assert!(
                    !code.contains(&format!("super::{item}")),
                    "src/resample/{name}.rs names `super::{item}`, an item of the top module"
                );
            }
        }
    }
}
