/* Fuzz target: mf_compute_prefix. The input is split simply:
 *
 *   byte 0        flags: bit 0 set = the hash dict is a pickle, else JSON;
 *                        bit 1 set = identity keys NULL, else the text below
 *   up to a NUL   base_prefix
 *   up to a NUL   identity_keys_json
 *   the rest      the hash dict's bytes
 *
 * With fewer than two NULs, the base prefix is "muflow", the identity keys NULL and
 * everything after byte 0 is the hash dict. A prefix must start with the base prefix
 * and a slash; hashed whole (no identity keys), its digest must be mf_content_digest's,
 * and for JSON the batch form over "[dict]" must give the same digest. */
#include <muflow_binding.h>

#include "fuzz_target.h"

struct prefix_input {
    mf_format format;
    const char *base;
    const char *keys;
    const uint8_t *dict;
    size_t dict_size;
};

/* Splits `data` into `in`, copying the two strings into `strings` (size + 2 bytes). */
static void split(struct prefix_input *in, char *strings, const uint8_t *data, size_t size) {
    in->format = (size > 0 && (data[0] & 1)) ? MF_FORMAT_PICKLE : MF_FORMAT_JSON;
    int null_keys = size > 0 && (data[0] & 2);
    const uint8_t *rest = size > 0 ? data + 1 : data;
    size_t rest_size = size > 0 ? size - 1 : 0;
    const uint8_t *first = memchr(rest, 0, rest_size);
    const uint8_t *second = first ? memchr(first + 1, 0, rest_size - (size_t)(first + 1 - rest)) : NULL;
    if (second == NULL) {
        in->base = "muflow";
        in->keys = NULL;
        in->dict = rest;
        in->dict_size = rest_size;
        return;
    }
    memcpy(strings, rest, (size_t)(second - rest) + 1);
    in->base = strings;
    in->keys = null_keys ? NULL : strings + (first - rest) + 1;
    in->dict = second + 1;
    in->dict_size = rest_size - (size_t)(second + 1 - rest);
}

static int ends_with_digest(const char *text, size_t length, const char *digest, const char *after) {
    size_t tail = MF_DIGEST_LENGTH + strlen(after);
    return length >= tail + 1 && text[length - tail - 1] == '/'
           && memcmp(text + length - tail, digest, MF_DIGEST_LENGTH) == 0
           && strcmp(text + length - strlen(after), after) == 0;
}

/* The hash dict as text, to tell whether its task name holds a NUL (which cuts the
 * returned C string short). */
static int task_may_hold_nul(const struct prefix_input *in) {
    char *text = NULL;
    if (mf_json_canonical(&text, NULL, in->format, in->dict, in->dict_size) != MF_OK)
        fuzz_fail("a hash dict hashed has canonical JSON", NULL);
    int found = strstr(text, "\\u0000") != NULL;
    mf_string_free(text);
    return found;
}

static void check_batch(const struct prefix_input *in, const char *digest) {
    uint8_t *wrapped = malloc(in->dict_size + 2);
    fuzz_check(wrapped != NULL, "memory for the batch");
    wrapped[0] = '[';
    if (in->dict_size > 0) memcpy(wrapped + 1, in->dict, in->dict_size);
    wrapped[in->dict_size + 1] = ']';
    char *prefixes = NULL;
    mf_status status = mf_compute_prefixes(&prefixes, MF_FORMAT_JSON, wrapped, in->dict_size + 2, in->base, NULL);
    /* "[dict]" may still fail (nesting one level past the limit), but it must never
     * succeed with another digest. */
    if (status == MF_OK) {
        if (!ends_with_digest(prefixes, strlen(prefixes), digest, "\"]"))
            fuzz_fail("the batch form hashes the dict as the single form", prefixes);
    } else {
        fuzz_check_failure(status, FUZZ_BAD_VALUE, "mf_compute_prefixes");
    }
    mf_string_free(prefixes);
    free(wrapped);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *strings = malloc(size + 2);
    fuzz_check(strings != NULL, "memory for the strings");
    struct prefix_input in;
    split(&in, strings, data, size);

    char *prefix = NULL;
    mf_status status = mf_compute_prefix(&prefix, in.format, in.dict, in.dict_size, in.base, in.keys);
    if (status != MF_OK) {
        fuzz_check_failure(status, FUZZ_BAD_VALUE, "mf_compute_prefix");
        fuzz_check(prefix == NULL, "no output on failure");
        free(strings);
        return 0;
    }
    size_t base_length = strlen(in.base);
    fuzz_check(strncmp(prefix, in.base, base_length) == 0 && prefix[base_length] == '/',
               "a prefix starts with the base prefix and a slash");
    if (in.keys == NULL && !task_may_hold_nul(&in)) {
        char digest[MF_DIGEST_LENGTH + 1];
        if (mf_content_digest(digest, in.format, in.dict, in.dict_size) != MF_OK)
            fuzz_fail("a hash dict hashed has a content digest", prefix);
        if (!ends_with_digest(prefix, strlen(prefix), digest, ""))
            fuzz_fail("a whole hash dict's prefix ends with its content digest", prefix);
        if (in.format == MF_FORMAT_JSON) check_batch(&in, digest);
    }
    mf_string_free(prefix);
    free(strings);
    return 0;
}
