/* The binding tier's rule functions through the C interface: the ready tracker driving
 * muflow's loop over a diamond, the write rules and the prefix selection, every
 * returned string freed. Run under valgrind by `make c-test`. */
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

#define NODE(key, deps)                                                                          \
    "\"" key "\": {\"key\": \"" key "\", \"function\": \"f\", \"subject_key\": \"s\", "          \
    "\"kwargs\": {}, \"storage_prefix\": \"" key "\", \"depends_on\": [" deps "], "              \
    "\"depended_on_by\": [], \"output_files\": [], \"analysis_id\": null, "                      \
    "\"dependency_access_map\": {}}"

int main(void) {
    const char *json = "{\"nodes\": {" NODE("a", "") ", " NODE("b", "\"a\"") ", " NODE("c", "\"a\"") ", "
                       NODE("d", "\"b\", \"c\"") "}, \"root_key\": \"d\"}";
    mf_plan *plan = NULL;
    expect(mf_plan_from_json(&plan, json, strlen(json)) == MF_OK, "plan read");
    mf_ready_tracker *tracker = NULL;
    expect(mf_ready_tracker_new(&tracker, plan) == MF_OK, "tracker made");
    mf_plan_free(plan); /* the tracker keeps what it needs */

    /* muflow's loop: ask, complete what is ready, ask again. */
    const size_t *ready = NULL;
    size_t count = 0, rounds = 0, visited = 0;
    expect(mf_ready_tracker_add_nodes(&ready, &count, tracker, NULL, 0) == MF_OK, "first ask");
    while (count > 0 && rounds < 10) {
        size_t nodes[4];
        memcpy(nodes, ready, count * sizeof *ready);
        visited += count;
        rounds++;
        expect(mf_ready_tracker_add_nodes(&ready, &count, tracker, nodes, count) == MF_OK, "nodes added");
    }
    expect(rounds == 3 && visited == 4, "a diamond runs in three rounds");

    expect(mf_ready_tracker_update(&ready, &count, tracker, NULL, "[\"d\", \"b\"]") == MF_OK, "keys removed");
    expect(count == 1 && ready[0] == 1, "b is ready again, d waits for it");
    size_t out_of_range = 9;
    expect(mf_ready_tracker_add_nodes(&ready, &count, tracker, &out_of_range, 1) == MF_ERR_INVALID_ARGUMENT,
           "an index out of range is refused");
    mf_ready_tracker_free(tracker);
    mf_ready_tracker_free(NULL);

    expect(mf_filename_check_write("out.json", 0, 0) == MF_OK, "a new name may be written");
    expect(mf_filename_check_write("manifest.json", 0, 0) == MF_ERR_PERMISSION, "manifest.json is protected");
    expect(mf_filename_check_write("out.json", 1, 0) == MF_ERR_ALREADY_EXISTS, "a name is written once");
    char *text = NULL;
    expect(mf_filename_protected(&text) == MF_OK && strcmp(text, "[\"context.json\", \"manifest.json\"]") == 0,
           "the protected names");
    mf_string_free(text);
    text = NULL;
    expect(mf_prefix_selection(&text) == MF_OK &&
               strcmp(text, "{\"label_key\": \"task\", \"label_default\": \"unknown\"}") == 0,
           "the prefix selection's parameters");
    mf_string_free(text);

    if (failures == 0) printf("rules: all checks passed\n");
    return failures == 0 ? 0 : 1;
}
