// See include/fuzz_driver.h: a weak reference to libFuzzer's driver entry point.
#include "fuzz_driver.h"

extern int LLVMFuzzerRunDriver(int *argc, char ***argv,
                               int (*callback)(const uint8_t *data, size_t size)) __attribute__((weak));

int slotproxy_fuzz_run_driver(int *argc, char ***argv, slotproxy_fuzz_callback callback) {
    if (!LLVMFuzzerRunDriver) return -1;
    return LLVMFuzzerRunDriver(argc, argv, callback);
}
