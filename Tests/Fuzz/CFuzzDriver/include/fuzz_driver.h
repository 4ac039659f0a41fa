// libFuzzer's entry for programs with a main of their own (compiler-rt's FuzzerDriver.cpp). SwiftPM
// points an executable's `main` at the module's top-level code, so the fuzz program starts there and
// hands control to libFuzzer through this call.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
