/* Fuzz target: the JSON reader and the canonical writer (mf_json_canonical with
 * MF_FORMAT_JSON). Bad input must fail with a documented status and leave no output.
 * Good input must give printable ASCII of the reported length that is already
 * canonical: written again, it comes out byte for byte the same. */
#include "fuzz_target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t length = 0;
    char *text = fuzz_canonical(MF_FORMAT_JSON, data, size, &length);
    if (text == NULL) return 0;

    char *again = NULL;
    size_t again_length = 0;
    mf_status status = mf_json_canonical(&again, &again_length, MF_FORMAT_JSON, text, length);
    if (status != MF_OK) fuzz_fail("canonical JSON reads back", text);
    if (again_length != length || memcmp(again, text, length) != 0) fuzz_fail("canonical JSON is a fixed point", text);
    mf_string_free(again);
    mf_string_free(text);
    return 0;
}
