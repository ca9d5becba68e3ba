//! `berth validate <file|dir>...`: runs the agent's config loader without starting anything.

use std::path::PathBuf;

use super::EXIT_USAGE;

/// Validates the given files and directories; returns the exit code.
pub fn run(args: &[String]) -> i32 {
    let mut quiet = false;
    let mut paths = Vec::new();
    for a in args {
        match a.as_str() {
            "-quiet" | "--quiet" => quiet = true,
            s if s.starts_with('-') && s.len() > 1 => {
                eprintln!("flag provided but not defined: {s}");
                return EXIT_USAGE;
            }
            s => paths.push(PathBuf::from(s)),
        }
    }
    if paths.is_empty() {
        eprintln!("Must specify at least one config file or directory");
        return EXIT_USAGE;
    }
    match crate::config::validate_paths(&paths) {
        Ok(()) => {
            if !quiet {
                println!("Configuration is valid!");
            }
            0
        }
        Err(errors) => {
            eprintln!("Config validation failed:\n{errors}");
            1
        }
    }
}
