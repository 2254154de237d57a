/* Builds the seed's ML pipeline over three datasets through muflow.h, prints its node
 * count and root key, round-trips the plan JSON and frees everything. The forEach
 * items of loo_cv come from a callback, the others are supplied up front. Run under
 * valgrind by `make c-test`. */
#include <muflow.h>
#include <stdio.h>
#include <string.h>

static int failures = 0;

static void expect(int condition, const char *what) {
    if (!condition) {
        fprintf(stderr, "FAILED: %s (%s)\n", what, mf_last_error_message());
        failures++;
    }
}

static mf_status set_jobs(mf_pipeline *pipeline, const char *step, const char *json) {
    return mf_pipeline_set_step_jobs(pipeline, step, MF_FORMAT_JSON, json, strlen(json));
}

struct callback_state {
    int calls;
    const char *loo_items;
};

static mf_status jobs_for(void *user_data, const char *step_name, mf_format *format_out,
                          const void **data_out, size_t *len_out) {
    struct callback_state *state = user_data;
    state->calls++;
    if (strcmp(step_name, "loo_cv") == 0) {
        *format_out = MF_FORMAT_JSON;
        *data_out = state->loo_items;
        *len_out = strlen(state->loo_items);
    }
    /* "train" gets nothing: a single step without kwargs_map. */
    return MF_OK;
}

int main(void) {
    mf_registry *registry = NULL;
    expect(mf_registry_new(&registry) == MF_OK, "registry");
    expect(mf_registry_add(registry, "{\"name\": \"ml.compute_features\", \"identity_keys\": [\"dataset\"], "
                                     "\"output_files\": [\"features.json\"]}") == MF_OK, "register features");
    expect(mf_registry_add(registry, "{\"name\": \"ml.train\"}") == MF_OK, "register train");
    expect(mf_registry_add(registry, "{\"name\": \"ml.train\"}") == MF_ERR_ALREADY_EXISTS, "no second ml.train");

    mf_pipeline *pipeline = NULL;
    expect(mf_pipeline_new(&pipeline, "ml.pipeline", "ML Pipeline") == MF_OK, "pipeline");
    expect(mf_pipeline_add_step(pipeline, "features", "ml.compute_features", MF_STEP_FOREACH, NULL) == MF_OK, "features");
    expect(mf_pipeline_add_step(pipeline, "train", "ml.train", MF_STEP_SINGLE, "[\"features\"]") == MF_OK, "train");
    expect(mf_pipeline_add_step(pipeline, "loo_cv", "ml.loo_cv", MF_STEP_FOREACH, "[\"features\"]") == MF_OK, "loo_cv");
    expect(mf_pipeline_add_step(pipeline, "reports", "ml.report", MF_STEP_FOREACH, "[\"train\", \"loo_cv\"]") == MF_OK,
           "reports");
    expect(set_jobs(pipeline, "features", "[{\"dataset\": \"a\"}, {\"dataset\": \"b\"}, {\"dataset\": \"c\"}]") == MF_OK,
           "features items");
    expect(set_jobs(pipeline, "reports", "[{\"format\": \"pdf\"}, {\"format\": \"csv\"}, {\"format\": \"html\"}]") == MF_OK,
           "report items");
    expect(set_jobs(pipeline, "features", "[1]") == MF_ERR_INVALID_ARGUMENT, "an item must be an object");

    char *order = NULL;
    expect(mf_pipeline_validate(&order, pipeline) == MF_OK, "validate");
    expect(order && strcmp(order, "[\"features\", \"train\", \"loo_cv\", \"reports\"]") == 0, "topological order");
    mf_string_free(order);

    struct callback_state state = {
        0,
        "[{\"leave_out_index\": 0, \"datasets\": [\"a\", \"b\", \"c\"]},"
        " {\"leave_out_index\": 1, \"datasets\": [\"a\", \"b\", \"c\"]},"
        " {\"leave_out_index\": 2, \"datasets\": [\"a\", \"b\", \"c\"]}]",
    };
    const char *kwargs = "{\"datasets\": [\"a\", \"b\", \"c\"]}";
    mf_plan *plan = NULL;
    mf_status status = mf_pipeline_build(&plan, pipeline, registry, "tag:1", MF_FORMAT_JSON, kwargs, strlen(kwargs),
                                         NULL, 0, jobs_for, &state);
    expect(status == MF_OK, "build");
    expect(state.calls == 2, "the callback is asked for train and loo_cv only");
    printf("nodes: %zu\nroot: %s\n", mf_plan_node_count(plan), mf_plan_root_key(plan));
    expect(mf_plan_node_count(plan) == 11, "11 nodes");
    expect(strcmp(mf_plan_root_key(plan), "muflow/ml.pipeline/546d91d3813882ba") == 0, "muflow's sentinel root");

    mf_plan *strict = NULL;
    status = mf_pipeline_build(&strict, pipeline, registry, "tag:1", MF_FORMAT_JSON, kwargs, strlen(kwargs),
                               NULL, MF_BUILD_STRICT, jobs_for, &state);
    expect(status == MF_ERR_NOT_FOUND && strict == NULL, "strict build refuses ml.loo_cv");

    char *json = NULL;
    size_t length = 0;
    expect(mf_plan_to_json(&json, &length, plan) == MF_OK, "to_json");
    mf_plan *again = NULL;
    expect(mf_plan_from_json(&again, json, length) == MF_OK, "from_json");
    char *json_again = NULL;
    expect(mf_plan_to_json(&json_again, NULL, again) == MF_OK, "to_json again");
    expect(json && json_again && strcmp(json, json_again) == 0, "the round trip keeps every byte");
    printf("plan JSON: %zu bytes\n", length);

    size_t index = 0;
    expect(mf_plan_node_index(&index, again, mf_plan_root_key(plan)) == MF_OK && index == 10, "root is the last node");
    char *kwargs_out = NULL;
    expect(mf_plan_node_field(&kwargs_out, NULL, again, 4, MF_NODE_KWARGS) == MF_OK, "kwargs of a loo node");
    expect(kwargs_out && strcmp(kwargs_out, "{\"datasets\":[\"a\",\"b\",\"c\"],\"leave_out_index\":0}") == 0,
           "kwargs are merged as {**kwargs, **item}");
    mf_string_free(kwargs_out);

    char *ready = NULL;
    expect(mf_plan_ready_nodes(&ready, again, "[]") == MF_OK, "ready nodes");
    expect(ready && strncmp(ready, "[\"muflow/ml.compute_features/", 29) == 0, "features are ready first");
    mf_string_free(ready);
    int complete = -1;
    expect(mf_plan_is_complete(&complete, again, "[]") == MF_OK && complete == 0, "not complete");
    char *levels = NULL;
    expect(mf_plan_levels(&levels, again) == MF_OK, "levels");
    mf_string_free(levels);

    mf_plan *broken = NULL;
    const char *rootless = "{\"nodes\": {}, \"root_key\": \"x\"}";
    expect(mf_plan_from_json(&broken, rootless, strlen(rootless)) == MF_ERR_INVALID_ARGUMENT,
           "a root that is not a node is refused");
    expect(broken == NULL, "no plan on failure");

    mf_string_free(json);
    mf_string_free(json_again);
    mf_plan_free(again);
    mf_plan_free(plan);
    mf_plan_free(NULL);
    mf_pipeline_free(pipeline);
    mf_registry_free(registry);
    return failures == 0 ? 0 : 1;
}
