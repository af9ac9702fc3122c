//! The `drctl` binary: see `drctl --help` and [`drctl::cli`].

fn main() -> std::process::ExitCode {
    drctl::cli::main()
}
