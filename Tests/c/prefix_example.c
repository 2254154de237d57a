/* Computes storage prefixes through the C interface and checks every error path
 * frees what it must. Run under valgrind by `make c-test`. */
#include <muflow_binding.h>
#include <stdio.h>
#include <string.h>

static int failures = 0;

static void expect(int condition, const char *what) {
    if (!condition) {
        fprintf(stderr, "FAILED: %s\n", what);
        failures++;
    }
}

int main(void) {
    expect(mf_version() == MF_VERSION_NUMBER, "runtime version matches the header");

    const char *hash_dict = "{\"task\": \"my.task\", \"subject\": \"data:123\", \"param\": \"value\"}";
    char *prefix = NULL;
    mf_status status = mf_compute_prefix(&prefix, MF_FORMAT_JSON, hash_dict, strlen(hash_dict), "muflow", NULL);
    expect(status == MF_OK, "mf_compute_prefix succeeds");
    /* python3 -c 'import hashlib,json; d={"task":"my.task","subject":"data:123","param":"value"};
       print(hashlib.sha256(json.dumps(d,sort_keys=True).encode()).hexdigest()[:16])' */
    expect(prefix && strcmp(prefix, "muflow/my.task/55f9b60ec6fe3ee6") == 0, "prefix is muflow's");
    printf("%s\n", prefix ? prefix : "(null)");
    mf_string_free(prefix);

    char *with_keys = NULL;
    status = mf_compute_prefix(&with_keys, MF_FORMAT_JSON, hash_dict, strlen(hash_dict), "base", "[\"param\"]");
    expect(status == MF_OK, "identity keys accepted");
    expect(with_keys && strncmp(with_keys, "base/my.task/", 13) == 0, "base prefix and label");
    mf_string_free(with_keys);

    char *untouched = NULL;
    status = mf_compute_prefix(&untouched, MF_FORMAT_JSON, "{\"a\": ", 6, "muflow", NULL);
    expect(status == MF_ERR_INVALID_ARGUMENT, "truncated JSON is an invalid argument");
    expect(untouched == NULL, "no output on failure");
    expect(strlen(mf_last_error_message()) > 0, "the failure has a message");

    status = mf_compute_prefix(&untouched, MF_FORMAT_JSON, "[1]", 3, "muflow", NULL);
    expect(status == MF_ERR_TYPE, "a non-object hash_dict is a type error");
    status = mf_compute_prefix(&untouched, MF_FORMAT_JSON, hash_dict, strlen(hash_dict), NULL, NULL);
    expect(status == MF_ERR_INVALID_ARGUMENT, "NULL base_prefix is refused");
    status = mf_compute_prefix(NULL, MF_FORMAT_JSON, hash_dict, strlen(hash_dict), "muflow", NULL);
    expect(status == MF_ERR_INVALID_ARGUMENT, "NULL out is refused");
    status = mf_compute_prefix(&untouched, MF_FORMAT_JSON, hash_dict, strlen(hash_dict), "muflow", "[1]");
    expect(status == MF_ERR_INVALID_ARGUMENT, "non-string identity keys are refused");
    status = mf_compute_prefix(&untouched, (mf_format)42, hash_dict, strlen(hash_dict), "muflow", NULL);
    expect(status == MF_ERR_INVALID_ARGUMENT, "an unknown format is refused");
    expect(untouched == NULL, "still no output");

    const char *many = "[{\"task\": \"a\"}, {\"task\": \"b\", \"x\": 1.5}]";
    char *prefixes = NULL;
    status = mf_compute_prefixes(&prefixes, MF_FORMAT_JSON, many, strlen(many), "muflow", NULL);
    expect(status == MF_OK, "batch succeeds");
    expect(prefixes && prefixes[0] == '[' && strstr(prefixes, "muflow/b/") != NULL, "batch returns a JSON array");
    mf_string_free(prefixes);

    char *canonical = NULL;
    size_t length = 0;
    const char *value = "{\"b\": [1e16, 1e-5, -0.0, NaN], \"a\": \"\\u00e9\"}";
    status = mf_json_canonical(&canonical, &length, MF_FORMAT_JSON, value, strlen(value));
    expect(status == MF_OK, "canonical JSON succeeds");
    expect(canonical && strcmp(canonical, "{\"a\": \"\\u00e9\", \"b\": [1e+16, 1e-05, -0.0, NaN]}") == 0,
           "canonical text is Python's json.dumps(sort_keys=True)");
    expect(canonical && length == strlen(canonical), "length is reported");
    mf_string_free(canonical);

    mf_string_free(NULL);
    expect(strcmp(mf_status_name(MF_ERR_CYCLE), "MF_ERR_CYCLE") == 0, "status names");
    return failures == 0 ? 0 : 1;
}
