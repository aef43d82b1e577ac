fn main() -> std::process::ExitCode {
    lgsp::cli::main()
}
