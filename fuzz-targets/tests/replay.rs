//! Replays every fuzz target on the stable toolchain: each file of the kept corpus
//! (`fuzz/corpus/<target>/`), then a fixed number of inputs from a seeded generator
//! (random bytes, and corpus files with random bytes flipped, cut or spliced), so the
//! suite runs the targets the way a fuzzer would, reproducibly.

use std::path::PathBuf;

use fuzz_targets::TARGETS;

/// Random inputs per target after the corpus.
const RANDOM_INPUTS: usize = 3_000;

/// SplitMix64: small, seeded, good enough to vary inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|path| std::fs::read(path).expect("corpus file"))
        .collect()
}

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut input = if seeds.is_empty() || rng.below(4) == 0 {
        let len = rng.below(512);
        (0..len).map(|_| rng.next() as u8).collect()
    } else {
        seeds[rng.below(seeds.len())].clone()
    };
    for _ in 0..=rng.below(8) {
        match rng.below(4) {
            0 if !input.is_empty() => {
                let at = rng.below(input.len());
                input[at] ^= 1 << rng.below(8);
            }
            1 if !input.is_empty() => {
                let at = rng.below(input.len());
                input[at] = rng.next() as u8;
            }
            2 => input.truncate(rng.below(input.len() + 1)),
            _ if !seeds.is_empty() => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len() + 1);
                input.extend_from_slice(&other[from..]);
            }
            _ => {}
        }
    }
    input
}

#[test]
fn every_target_survives_its_corpus_and_random_inputs() {
    for (name, target) in TARGETS {
        let seeds = corpus(name);
        assert!(!seeds.is_empty(), "{name}: empty corpus");
        for seed in &seeds {
            target(seed);
        }
        let mut rng = Rng(0x5EED ^ name.len() as u64);
        for _ in 0..RANDOM_INPUTS {
            target(&mutate(&mut rng, &seeds));
        }
    }
}
