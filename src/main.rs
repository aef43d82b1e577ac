// Many threads allocate small buffers at once (HTTP, AMQP, the store's and the log's writers).
// Measured with `lgsp bench --trust on --batch 0` on 2 cores: 2,359–2,482 msg/s and 402–413 µs of
// CPU per message with mimalloc, 1,738–1,996 msg/s and 458–495 µs with glibc's malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    lgsp::cli::main()
}
