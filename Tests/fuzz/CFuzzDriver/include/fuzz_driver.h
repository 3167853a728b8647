// Lets a fuzz executable start libFuzzer when it was linked with it, and run without it when not.
//
// `swift build -Xswiftc -sanitize=fuzzer` links libFuzzer as a whole archive, but SwiftPM names
// the executable's own entry point `main` (--defsym main=<module>_main), so libFuzzer's main
// never runs. Our main calls LLVMFuzzerRunDriver instead, through a weak reference: present in a
// fuzzer build, null in a plain one (then the executable replays the inputs it is given).

#ifndef SLOTPROXY_FUZZ_DRIVER_H
#define SLOTPROXY_FUZZ_DRIVER_H

#include <stddef.h>
#include <stdint.h>

typedef int (*slotproxy_fuzz_callback)(const uint8_t *data, size_t size);

/// Runs libFuzzer's driver with the command line and returns its exit code, or -1 when the
/// executable was not linked with libFuzzer.
int slotproxy_fuzz_run_driver(int *argc, char ***argv, slotproxy_fuzz_callback callback);

#endif
