/* What every fuzz target shares. A target defines LLVMFuzzerTestOneInput, which
 * libFuzzer calls (make fuzz) and replay.c calls once per corpus file (make
 * fuzz-replay). Error statuses are normal outcomes for hostile input; only a broken
 * property calls fuzz_fail, which aborts so that both drivers report it. */
#ifndef MUFLOW_FUZZ_TARGET_H
#define MUFLOW_FUZZ_TARGET_H

#include <muflow.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline void fuzz_fail(const char *property, const char *detail) {
    fprintf(stderr, "fuzz property broken: %s\n", property);
    if (detail != NULL) fprintf(stderr, "  detail: %s\n", detail);
    fprintf(stderr, "  last error: %s\n", mf_last_error_message());
    abort();
}

static inline void fuzz_check(int condition, const char *property) {
    if (!condition) fuzz_fail(property, NULL);
}

/* The statuses a call documents for bad input, as a set for fuzz_check_failure. */
#define FUZZ_STATUS(status) (1u << (status))
#define FUZZ_BAD_VALUE (FUZZ_STATUS(MF_ERR_INVALID_ARGUMENT) | FUZZ_STATUS(MF_ERR_TYPE) | FUZZ_STATUS(MF_ERR_LIMIT))

/* A failure must have one of the `documented` statuses (never MF_ERR_INTERNAL, "a bug
 * in the library") and a message. */
static inline void fuzz_check_failure(mf_status status, unsigned documented, const char *call) {
    if (status == MF_OK || (unsigned)status >= 32 || !(documented & FUZZ_STATUS(status))) {
        fprintf(stderr, "%s returned %s\n", call, mf_status_name(status));
        fuzz_fail("a failure on bad input has a documented status", call);
    }
    if (mf_last_error_message()[0] == '\0') fuzz_fail("a failure has a message", call);
}

/* 1 if the `length` bytes at `text` are printable ASCII (what ensure_ascii writes). */
static inline int fuzz_is_printable_ascii(const char *text, size_t length) {
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x20 || c > 0x7E) return 0;
    }
    return 1;
}

/* The canonical JSON of the `size` bytes at `data`, or NULL when they are refused (then
 * with a documented status and no output). A text given back is printable ASCII of the
 * length stored at `length`; the caller frees it with mf_string_free. */
static inline char *fuzz_canonical(mf_format format, const uint8_t *data, size_t size, size_t *length) {
    char *text = NULL;
    mf_status status = mf_json_canonical(&text, length, format, data, size);
    if (status != MF_OK) {
        fuzz_check_failure(status, FUZZ_BAD_VALUE, "mf_json_canonical");
        fuzz_check(text == NULL, "no output on failure");
        return NULL;
    }
    fuzz_check(text != NULL && strlen(text) == *length, "the reported length is the text's");
    fuzz_check(fuzz_is_printable_ascii(text, *length), "canonical JSON is printable ASCII");
    return text;
}

#endif
