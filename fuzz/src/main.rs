//! `lbplay-fuzz --inputs N [--seed S] [--repo DIR] [--out DIR]`: mutates the seeds (src/mutate.rs),
//! drives each input through its targets (src/targets.rs), and reports every input that panics,
//! takes over a second of CPU time, or allocates over 256 MiB at its peak. Findings are written to
//! `--out` (target/fuzz by default) as `KIND-INDEX.txt`, to become regression tests; the input
//! under way is kept in `current.txt` there, so one that kills the process (a stack overflow, an
//! abort on a failed allocation) is not lost. Exit code 1 when anything was found.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use std::collections::BTreeMap;

use lbplay_fuzz::Rng;
use lbplay_fuzz::targets::{self, Reached};

/// The system allocator, counting the bytes in use and their peak, which the runner resets before
/// each input.
struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed straight to the system allocator with the caller's layout; the
// counters only observe the sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract, which is `System.alloc`'s.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let now = IN_USE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `alloc`; `ptr` came from this allocator with `layout`.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
            let now = IN_USE.fetch_add(new_size, Ordering::Relaxed) + new_size;
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const SLOW: Duration = Duration::from_secs(1);
const HUGE: usize = 256 << 20;

struct Options {
    inputs: u64,
    seed: u64,
    repo: PathBuf,
    out: PathBuf,
    /// A kept input to run once, its kind from its name (`scenario-13054.txt`).
    replay: Option<PathBuf>,
}

fn options() -> Result<Options, String> {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut options = Options { inputs: 10_000, seed: 1, out: repo.join("target/fuzz"), repo, replay: None };
    let mut args = std::env::args_os().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .and_then(|v| v.into_string().ok())
            .ok_or_else(|| format!("{} needs a value", flag.to_string_lossy()))?;
        match flag.to_str() {
            Some("--inputs") => options.inputs = value.parse().map_err(|err| format!("--inputs: {err}"))?,
            Some("--seed") => options.seed = value.parse().map_err(|err| format!("--seed: {err}"))?,
            Some("--repo") => options.repo = PathBuf::from(value),
            Some("--out") => options.out = PathBuf::from(value),
            Some("--replay") => options.replay = Some(PathBuf::from(value)),
            _ => {
                return Err(format!(
                    "unknown flag {}; usage: lbplay-fuzz --inputs N [--seed S] [--repo DIR] [--out DIR] | --replay FILE",
                    flag.to_string_lossy()
                ));
            }
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    match fuzz() {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("lbplay-fuzz: {message}");
            ExitCode::from(2)
        }
    }
}

/// Runs the inputs and returns how many findings there were.
fn fuzz() -> Result<u64, String> {
    let options = options()?;
    if let Some(path) = &options.replay {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let kind = name
            .split('-')
            .next()
            .and_then(lbplay_fuzz::Kind::parse)
            .ok_or_else(|| format!("{name}: not named KIND-….txt"))?;
        let bytes = std::fs::read(path).map_err(|err| format!("{}: {err}", path.display()))?;
        let start = Instant::now();
        let reached = targets::run(&lbplay_fuzz::Input { kind, bytes });
        println!(
            "{name}: {reached:?} in {:.1?}, {} MiB at the peak",
            start.elapsed(),
            PEAK.load(Ordering::Relaxed) >> 20
        );
        return Ok(0);
    }
    let seeds = targets::seeds(&options.repo)?;
    std::fs::create_dir_all(&options.out).map_err(|err| format!("{}: {err}", options.out.display()))?;
    let current = options.out.join("current.txt");
    // Panics are findings, caught per input; their message is kept for the report, not printed.
    let last_panic = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let hook_panic = std::sync::Arc::clone(&last_panic);
    std::panic::set_hook(Box::new(move |info| {
        if let Ok(mut last) = hook_panic.lock() {
            *last = info.to_string();
        }
    }));
    let mut rng = Rng::new(options.seed);
    let (mut findings, mut slowest, mut biggest) = (0u64, Duration::ZERO, 0usize);
    // Per kind: inputs, decoded, walked.
    let mut reached: BTreeMap<&'static str, [u64; 3]> = BTreeMap::new();
    let started = Instant::now();
    for index in 0..options.inputs {
        let input = seeds.mutated(&mut rng);
        std::fs::write(&current, &input.bytes).map_err(|err| format!("{}: {err}", current.display()))?;
        let base = IN_USE.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        let start = Instant::now();
        let cpu_start = lbplay_fuzz::cpu_time();
        let outcome = std::panic::catch_unwind(|| targets::run(&input));
        let elapsed = match (cpu_start, lbplay_fuzz::cpu_time()) {
            (Some(before), Some(after)) => after.saturating_sub(before),
            _ => start.elapsed(),
        };
        let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
        slowest = slowest.max(elapsed);
        biggest = biggest.max(peak);
        let counts = reached.entry(input.kind.as_str()).or_default();
        counts[0] += 1;
        if let Ok(at) = outcome {
            counts[1] += u64::from(at >= Reached::Decoded);
            counts[2] += u64::from(at == Reached::Walked);
        }
        let finding = match outcome {
            Err(_) => Some(format!("panic: {}", last_panic.lock().map(|m| m.clone()).unwrap_or_default())),
            Ok(_) if elapsed > SLOW => Some(format!("slow: {elapsed:?}")),
            Ok(_) if peak > HUGE => Some(format!("huge: {} MiB at the peak", peak >> 20)),
            Ok(_) => None,
        };
        if let Some(what) = finding {
            findings += 1;
            let path = options.out.join(format!("{}-{index}.txt", input.kind.as_str()));
            std::fs::write(&path, &input.bytes).map_err(|err| format!("{}: {err}", path.display()))?;
            println!("input {index} ({}): {what} — kept in {}", input.kind.as_str(), path.display());
        }
        if (index + 1) % 10_000 == 0 {
            eprintln!("{} inputs, {findings} findings, {:.0?}", index + 1, started.elapsed());
        }
    }
    let _ = std::fs::remove_file(&current);
    println!(
        "{} inputs (seed {}) in {:.1?}: {findings} findings; the slowest input took {slowest:.1?} of CPU time, the largest peak allocation was {} KiB",
        options.inputs,
        options.seed,
        started.elapsed(),
        biggest >> 10
    );
    for (kind, [inputs, decoded, walked]) in reached {
        println!("  {kind}: {inputs} inputs, {decoded} decoded, {walked} walked to a backend");
    }
    Ok(findings)
}
