// A C++17 program using muflow.h: a two-step pipeline (a ForEach "numbers" step and a
// "total" step after it) whose tasks are static member functions, run with
// mf_run_execute, then run again to find every node cached. Handles are held by
// std::unique_ptr with the library's free functions as deleters.
//
// Build: c++ -std=c++17 -Wall -Wextra -Werror -pedantic -Iinclude Tests/c/run_cxx.cpp -lmuflow
#include <muflow.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

namespace {

namespace fs = std::filesystem;

template <typename T, void (*Free)(T *)>
struct Deleter {
    void operator()(T *p) const { Free(p); }
};
using Registry = std::unique_ptr<mf_registry, Deleter<mf_registry, mf_registry_free>>;
using Pipeline = std::unique_ptr<mf_pipeline, Deleter<mf_pipeline, mf_pipeline_free>>;
using Plan = std::unique_ptr<mf_plan, Deleter<mf_plan, mf_plan_free>>;
using Run = std::unique_ptr<mf_run, Deleter<mf_run, mf_run_free>>;

int failures = 0;

void expect(bool condition, const char *what) {
    if (!condition) {
        std::fprintf(stderr, "FAILED: %s (%s)\n", what, mf_last_error_message());
        ++failures;
    }
}

std::string read(const fs::path &path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

// The value of `"key":` in compact JSON as an integer (the kwargs here are flat).
long integer_member(const std::string &json, const std::string &key) {
    auto at = json.find("\"" + key + "\":");
    return at == std::string::npos ? -1 : std::strtol(json.c_str() + at + key.size() + 3, nullptr, 10);
}

struct Tasks {
    static std::atomic<int> calls;

    // kwargs {"n": N}: writes square.txt holding N * N.
    static mf_status square(void *, const mf_task_call *call) {
        ++calls;
        long n = integer_member(mf_task_call_kwargs_json(call), "n");
        std::string text = std::to_string(n * n);
        return mf_storage_save(mf_task_call_storage(call), "square.txt", text.data(), text.size(), 0);
    }

    // Adds square.txt of each dependency (access key -> directory, compact JSON).
    static mf_status total(void *, const mf_task_call *call) {
        ++calls;
        std::string deps = mf_task_call_dependencies_json(call);
        long sum = 0;
        int count = 0;
        for (std::size_t at = 0; (at = deps.find("\":\"", at)) != std::string::npos; ++count) {
            at += 3;
            auto end = deps.find('"', at);
            sum += std::strtol(read(fs::path(deps.substr(at, end - at)) / "square.txt").c_str(), nullptr, 10);
            at = end;
        }
        if (count == 0) {
            mf_task_fail(call, "no dependencies");
            return MF_ERR_NOT_FOUND;
        }
        std::string text = std::to_string(sum);
        return mf_storage_save(mf_task_call_storage(call), "total.txt", text.data(), text.size(), 0);
    }
};

std::atomic<int> Tasks::calls{0};

mf_run_progress run(const mf_plan *plan, const mf_registry *registry) {
    mf_run *raw = nullptr;
    expect(mf_run_new(&raw, plan, registry, MF_FAILURE_STOP, 0) == MF_OK, "mf_run_new");
    Run run(raw);
    expect(mf_run_execute(run.get(), registry, 2) == MF_OK, "mf_run_execute");
    mf_run_progress progress = MF_RUN_PROGRESS_INIT;
    expect(mf_run_get_progress(&progress, run.get()) == MF_OK, "mf_run_get_progress");
    return progress;
}

}  // namespace

int main() {
    std::string dir = (fs::temp_directory_path() / "muflow-run-cxx-XXXXXX").string();
    if (!mkdtemp(dir.data())) {
        std::perror("mkdtemp");
        return 1;
    }
    fs::path base = dir;
    {
        mf_registry *raw_registry = nullptr;
        expect(mf_registry_new(&raw_registry) == MF_OK, "registry");
        Registry registry(raw_registry);
        expect(mf_registry_add(registry.get(), R"({"name": "cxx.square", "output_files": ["square.txt"]})") == MF_OK,
               "add cxx.square");
        expect(mf_registry_add(registry.get(), R"({"name": "cxx.total", "output_files": ["total.txt"]})") == MF_OK,
               "add cxx.total");
        expect(mf_registry_set_function(registry.get(), "cxx.square", &Tasks::square, nullptr, nullptr) == MF_OK, "attach");
        expect(mf_registry_set_function(registry.get(), "cxx.total", &Tasks::total, nullptr, nullptr) == MF_OK, "attach");

        mf_pipeline *raw_pipeline = nullptr;
        expect(mf_pipeline_new(&raw_pipeline, "cxx.pipeline", nullptr) == MF_OK, "pipeline");
        Pipeline pipeline(raw_pipeline);
        expect(mf_pipeline_add_step(pipeline.get(), "numbers", "cxx.square", MF_STEP_FOREACH, nullptr) == MF_OK, "numbers");
        expect(mf_pipeline_add_step(pipeline.get(), "total", "cxx.total", MF_STEP_SINGLE, R"(["numbers"])") == MF_OK,
               "total");
        std::string items = R"([{"n": 2}, {"n": 3}, {"n": 4}])";
        expect(mf_pipeline_set_step_jobs(pipeline.get(), "numbers", MF_FORMAT_JSON, items.data(), items.size()) == MF_OK,
               "items");
        mf_plan *raw_plan = nullptr;
        expect(mf_pipeline_build(&raw_plan, pipeline.get(), registry.get(), "cxx:1", MF_FORMAT_JSON, nullptr, 0,
                                 base.c_str(), MF_BUILD_STRICT, nullptr, nullptr) == MF_OK, "build");
        Plan plan(raw_plan);
        expect(mf_plan_node_count(plan.get()) == 4, "4 nodes, the total being the root");

        mf_run_progress first = run(plan.get(), registry.get());
        expect(first.succeeded == 4 && first.failed == 0 && Tasks::calls == 4, "first run");
        fs::path root = base / "cxx.total";
        std::string total;
        for (const auto &entry : fs::directory_iterator(root)) total = read(entry.path() / "total.txt");
        expect(total == "29", "4 + 9 + 16");

        mf_run_progress second = run(plan.get(), registry.get());
        expect(second.cached == 4 && second.succeeded == 0 && Tasks::calls == 4, "second run all cached");
        std::printf("run_cxx: total %s; first run %zu succeeded, second run %zu cached\n", total.c_str(),
                    first.succeeded, second.cached);
    }
    std::error_code ignored;
    fs::remove_all(base, ignored);
    return failures == 0 ? 0 : 1;
}
