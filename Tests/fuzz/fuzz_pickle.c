/* Fuzz target: the pickle readers behind mf_json_canonical with MF_FORMAT_PICKLE.
 * The library has two: a fast path that writes canonical text while it reads
 * (PickleCanonical) and the full pickle machine, which it falls back to and which
 * mf_compute_prefix and mf_compute_prefixes always use. The two must agree: the
 * content digest of a dict (fast path when it applies) is the digest in its prefix
 * (full reader), and so for each dict of a list.
 *
 * Canonical text of a pickle is JSON that reads back, but not always a fixed point:
 * non-string keys are sorted as Python sorts the original keys (1 < 2.5 < 10), then
 * written as strings, which sort otherwise ("1" < "10" < "2.5"). Written again, the
 * text keeps its length and becomes a fixed point. */
#include <muflow_binding.h>

#include "fuzz_target.h"

/* The label in a prefix ends the C string early when the task name holds a NUL. */
static int may_hold_nul(const char *text) {
    return strstr(text, "\\u0000") != NULL;
}

static void check_dict_against_full_reader(const uint8_t *data, size_t size, const char *text) {
    char digest[MF_DIGEST_LENGTH + 1];
    if (mf_content_digest(digest, MF_FORMAT_PICKLE, data, size) != MF_OK) fuzz_fail("a canonical dict has a digest", text);
    char *prefix = NULL;
    mf_status status = mf_compute_prefix(&prefix, MF_FORMAT_PICKLE, data, size, "", NULL);
    if (status != MF_OK) fuzz_fail("the full reader accepts a dict mf_json_canonical accepted", text);
    if (!may_hold_nul(text)) {
        size_t length = strlen(prefix);
        if (length < MF_DIGEST_LENGTH + 2 || prefix[0] != '/' || strcmp(prefix + length - MF_DIGEST_LENGTH, digest) != 0)
            fuzz_fail("the full reader hashes the dict as the canonical text", prefix);
    }
    mf_string_free(prefix);
}

/* The digests at the end of each string of a JSON array of strings, in order, into
 * `out` (MF_DIGEST_LENGTH bytes each); returns how many strings there were. */
static size_t digests_of_prefixes(const char *json, char *out, size_t capacity) {
    size_t count = 0;
    const char *start = NULL;
    for (const char *p = json; *p != '\0'; p++) {
        if (start == NULL) {
            if (*p == '"') start = p + 1;
        } else if (*p == '\\') {
            p++;
        } else if (*p == '"') {
            fuzz_check((size_t)(p - start) > MF_DIGEST_LENGTH, "a prefix holds a digest");
            fuzz_check((count + 1) * MF_DIGEST_LENGTH <= capacity, "as many prefixes as elements");
            memcpy(out + count * MF_DIGEST_LENGTH, p - MF_DIGEST_LENGTH, MF_DIGEST_LENGTH);
            count++;
            start = NULL;
        }
    }
    return count;
}

static void check_list_against_full_reader(const uint8_t *data, size_t size, const char *text, size_t length) {
    /* "[]" or elements of at least one character joined by ", ". */
    size_t capacity = MF_DIGEST_LENGTH * (length / 3 + 1);
    char *digests = malloc(capacity);
    char *from_prefixes = malloc(capacity);
    fuzz_check(digests != NULL && from_prefixes != NULL, "memory for the digests");
    size_t count = 0;
    mf_status status = mf_content_digests(digests, capacity, &count, MF_FORMAT_PICKLE, data, size);
    if (status != MF_OK) fuzz_fail("mf_content_digests accepts a list mf_json_canonical accepted", text);
    char *prefixes = NULL;
    status = mf_compute_prefixes(&prefixes, MF_FORMAT_PICKLE, data, size, "", NULL);
    if (status == MF_OK) {
        if (!may_hold_nul(text)
            && (digests_of_prefixes(prefixes, from_prefixes, capacity) != count
                || memcmp(digests, from_prefixes, count * MF_DIGEST_LENGTH) != 0))
            fuzz_fail("the element digests are those the full reader hashes", prefixes);
    } else {
        /* An element that is not a dict. */
        fuzz_check(status == MF_ERR_TYPE, "a list mf_json_canonical accepted fails only for its elements' type");
    }
    mf_string_free(prefixes);
    free(from_prefixes);
    free(digests);
}

static void check_reads_back(const char *text, size_t length) {
    char *again = NULL, *third = NULL;
    size_t again_length = 0, third_length = 0;
    if (mf_json_canonical(&again, &again_length, MF_FORMAT_JSON, text, length) != MF_OK)
        fuzz_fail("canonical JSON of a pickle reads back as JSON", text);
    if (again_length != length) fuzz_fail("canonical JSON written again keeps its length", text);
    if (mf_json_canonical(&third, &third_length, MF_FORMAT_JSON, again, again_length) != MF_OK
        || third_length != again_length || memcmp(third, again, again_length) != 0)
        fuzz_fail("canonical JSON written twice is a fixed point", again);
    mf_string_free(third);
    mf_string_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t length = 0;
    char *text = fuzz_canonical(MF_FORMAT_PICKLE, data, size, &length);
    if (text == NULL) return 0;
    check_reads_back(text, length);
    if (text[0] == '{') check_dict_against_full_reader(data, size, text);
    if (text[0] == '[') check_list_against_full_reader(data, size, text, length);
    mf_string_free(text);
    return 0;
}
