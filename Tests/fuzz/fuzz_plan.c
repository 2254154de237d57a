/* Fuzz target: plan JSON (mf_plan_from_json). A plan read must write itself back
 * (mf_plan_to_json) as text that reads again into the same plan: the second text
 * equals the first. Its queries must all answer and agree with each other. */
#include <muflow_binding.h>

#include "fuzz_target.h"

#define PLAN_ERRORS (FUZZ_STATUS(MF_ERR_INVALID_ARGUMENT) | FUZZ_STATUS(MF_ERR_CYCLE) | FUZZ_STATUS(MF_ERR_LIMIT))
/* Enough nodes to meet every kind of field; the rest only cost time. */
#define FIELDS_CHECKED_NODES 16

static void answered(mf_status status, const char *call) {
    if (status != MF_OK) fuzz_fail("a query on a plan read answers", call);
}

static void check_round_trip(const mf_plan *plan, const char *first, size_t first_length) {
    mf_plan *again = NULL;
    mf_status status = mf_plan_from_json(&again, first, first_length);
    if (status != MF_OK) fuzz_fail("a written plan reads back", first);
    fuzz_check(mf_plan_node_count(again) == mf_plan_node_count(plan), "the plan read back has as many nodes");
    char *second = NULL;
    size_t second_length = 0;
    answered(mf_plan_to_json(&second, &second_length, again), "mf_plan_to_json again");
    if (second_length != first_length || memcmp(first, second, first_length) != 0)
        fuzz_fail("a plan read back writes the same JSON", first);
    mf_string_free(second);
    mf_plan_free(again);
}

/* The JSON array of the elements of two non-empty JSON arrays. */
static char *joined_arrays(const char *first, const char *second) {
    size_t first_length = strlen(first), second_length = strlen(second);
    fuzz_check(first_length >= 2 && second_length >= 2, "key lists are arrays");
    char *joined = malloc(first_length + second_length + 1);
    fuzz_check(joined != NULL, "memory for the key lists");
    memcpy(joined, first, first_length - 1);
    joined[first_length - 1] = ',';
    memcpy(joined + first_length, second + 1, second_length);
    return joined;
}

static void check_queries(const mf_plan *plan, int keys_may_hold_nul) {
    size_t count = mf_plan_node_count(plan);
    fuzz_check(count > 0, "a plan read has its root node");
    fuzz_check(mf_plan_root_index(plan) < count, "the root index is a node's");
    size_t index = 0;
    mf_status status = mf_plan_node_index(&index, plan, mf_plan_root_key(plan));
    /* A root key holding a NUL byte is cut short as a C string: another key, or none. */
    fuzz_check(keys_may_hold_nul || (status == MF_OK && index == mf_plan_root_index(plan)),
               "the root key finds the root index");

    char *keys = NULL;
    answered(mf_plan_node_keys(&keys, plan), "mf_plan_node_keys");
    char *leaves = NULL;
    answered(mf_plan_leaf_nodes(&leaves, plan), "mf_plan_leaf_nodes");
    char *ready = NULL;
    answered(mf_plan_ready_nodes(&ready, plan, "[]"), "mf_plan_ready_nodes([])");
    if (strcmp(leaves, ready) != 0) fuzz_fail("with nothing completed, the ready nodes are the leaves", ready);
    /* muflow's ready_nodes skips a node by its "key" field, which may differ from the
     * key it is filed under: "everything" is both. */
    char *key_fields = NULL;
    answered(mf_plan_field_values(&key_fields, plan, MF_NODE_KEY), "mf_plan_field_values(MF_NODE_KEY)");
    char *everything = joined_arrays(keys, key_fields);
    char *none_left = NULL;
    answered(mf_plan_ready_nodes(&none_left, plan, everything), "mf_plan_ready_nodes(all)");
    if (strcmp(none_left, "[]") != 0) fuzz_fail("with everything completed, no node is ready", none_left);
    free(everything);
    mf_string_free(key_fields);
    int complete = 0;
    status = mf_plan_is_complete(&complete, plan, keys);
    fuzz_check(status == MF_OK && complete == 1, "with every node completed, the plan is complete");
    status = mf_plan_is_complete(&complete, plan, "[]");
    fuzz_check(status == MF_OK && complete == 0, "with nothing completed, the plan is not complete");
    char *levels = NULL;
    answered(mf_plan_levels(&levels, plan), "mf_plan_levels");
    mf_string_free(levels);
    mf_string_free(none_left);
    mf_string_free(ready);
    mf_string_free(leaves);
    mf_string_free(keys);

    for (int field = MF_NODE_KEY; field <= MF_NODE_ANALYSIS_ID; field++) {
        char *values = NULL;
        answered(mf_plan_field_values(&values, plan, (mf_node_field)field), "mf_plan_field_values");
        mf_string_free(values);
    }
    for (size_t i = 0; i < count && i < FIELDS_CHECKED_NODES; i++) {
        for (int field = MF_NODE_KEY; field <= MF_NODE_JSON; field++) {
            char *value = NULL;
            size_t value_length = 0;
            answered(mf_plan_node_field(&value, &value_length, plan, i, (mf_node_field)field),
                     "mf_plan_node_field");
            fuzz_check(strlen(value) <= value_length, "a field's reported length covers its text");
            mf_string_free(value);
        }
    }
    char *missing = NULL;
    status = mf_plan_node_field(&missing, NULL, plan, count, MF_NODE_KEY);
    fuzz_check(status == MF_ERR_NOT_FOUND && missing == NULL, "an index past the last node is not found");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mf_plan *plan = NULL;
    mf_status status = mf_plan_from_json(&plan, (const char *)data, size);
    if (status != MF_OK) {
        fuzz_check_failure(status, PLAN_ERRORS, "mf_plan_from_json");
        fuzz_check(plan == NULL, "no plan on failure");
        return 0;
    }
    char *text = NULL;
    size_t length = 0;
    answered(mf_plan_to_json(&text, &length, plan), "mf_plan_to_json");
    fuzz_check(strlen(text) == length, "the plan JSON's reported length is its own");
    check_round_trip(plan, text, length);
    check_queries(plan, strstr(text, "\\u0000") != NULL);
    mf_string_free(text);
    mf_plan_free(plan);
    return 0;
}
