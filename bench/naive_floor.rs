//! The "naive floor" of `canary compare` (bench/compare.sh, BENCHMARKS.md): a plain
//! single-threaded program that reads both files, parses them with the standard library, sorts
//! them and counts the Mann-Whitney U by merging. Whatever canary computes beyond U (the p-value,
//! the Hodges-Lehmann estimate and interval, summaries), it cannot do the same work in less time
//! than this without parallelism or a faster parser.
//!
//!     rustc -O --edition 2021 bench/naive_floor.rs -o target/naive_floor
//!     target/naive_floor BASELINE CANARY      # prints U of the canary against the baseline

use std::env;
use std::fs;

fn read_sorted(path: &str) -> Vec<f64> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let mut values: Vec<f64> = text
        .split_ascii_whitespace()
        .map(|token| token.parse::<f64>().unwrap_or_else(|_| panic!("{path}: `{token}` is not a number")))
        .collect();
    values.sort_unstable_by(f64::total_cmp);
    values
}

/// U of `canary` against `baseline` (both sorted): pairs where the canary is larger, ties half.
fn u_statistic(canary: &[f64], baseline: &[f64]) -> f64 {
    let (mut below, mut equal_end) = (0usize, 0usize);
    let mut u = 0.0;
    for &value in canary {
        while below < baseline.len() && baseline[below] < value {
            below += 1;
        }
        if equal_end < below {
            equal_end = below;
        }
        while equal_end < baseline.len() && baseline[equal_end] == value {
            equal_end += 1;
        }
        u += below as f64 + (equal_end - below) as f64 / 2.0;
    }
    u
}

fn main() {
    let args: Vec<String> = env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: naive_floor BASELINE CANARY");
        std::process::exit(2);
    }
    let baseline = read_sorted(&args[1]);
    let canary = read_sorted(&args[2]);
    println!("{}", u_statistic(&canary, &baseline));
}
