//! The `berth` binary: hands the command line to `cli` and exits with its code. No logic here.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(berth::cli::run(args));
}
