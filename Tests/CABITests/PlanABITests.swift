import CMuflowHeader
import XCTest

/// Registries, pipelines and plans through muflow.h only.
final class PlanABITests: XCTestCase {
    /// muflow 0.4.0's plan for the seed's ML pipeline over ["a", "b", "c"], with
    /// ml.compute_features (identity key "dataset", two output files) and ml.train
    /// (one output file) registered.
    static let mlExpected = #"{"nodes":{"muflow/ml.compute_features/6175259ffac837fa":{"key":"muflow/ml.compute_features/6175259ffac837fa","function":"ml.compute_features","subject_key":"tag:1","kwargs":{"datasets":["a","b","c"],"dataset":"a"},"storage_prefix":"muflow/ml.compute_features/6175259ffac837fa","depends_on":[],"depended_on_by":["muflow/ml.train/8b54bf2701aa2eda","muflow/ml.loo/c5b97a840289f71a","muflow/ml.loo/cb085ea1230aaeac","muflow/ml.loo/8f90b6eac8ae45c5"],"output_files":["features.json","plot.png"],"analysis_id":null,"dependency_access_map":{}},"muflow/ml.compute_features/dc25ce9ceac768cb":{"key":"muflow/ml.compute_features/dc25ce9ceac768cb","function":"ml.compute_features","subject_key":"tag:1","kwargs":{"datasets":["a","b","c"],"dataset":"b"},"storage_prefix":"muflow/ml.compute_features/dc25ce9ceac768cb","depends_on":[],"depended_on_by":["muflow/ml.train/8b54bf2701aa2eda","muflow/ml.loo/c5b97a840289f71a","muflow/ml.loo/cb085ea1230aaeac","muflow/ml.loo/8f90b6eac8ae45c5"],"output_files":["features.json","plot.png"],"analysis_id":null,"dependency_access_map":{}},"muflow/ml.compute_features/c48bed613d8e146c":{"key":"muflow/ml.compute_features/c48bed613d8e146c","function":"ml.compute_features","subject_key":"tag:1","kwargs":{"datasets":["a","b","c"],"dataset":"c"},"storage_prefix":"muflow/ml.compute_features/c48bed613d8e146c","depends_on":[],"depended_on_by":["muflow/ml.train/8b54bf2701aa2eda","muflow/ml.loo/c5b97a840289f71a","muflow/ml.loo/cb085ea1230aaeac","muflow/ml.loo/8f90b6eac8ae45c5"],"output_files":["features.json","plot.png"],"analysis_id":null,"dependency_access_map":{}},"muflow/ml.train/8b54bf2701aa2eda":{"key":"muflow/ml.train/8b54bf2701aa2eda","function":"ml.train","subject_key":"tag:1","kwargs":{"datasets":["a","b","c"]},"storage_prefix":"muflow/ml.train/8b54bf2701aa2eda","depends_on":["muflow/ml.compute_features/6175259ffac837fa","muflow/ml.compute_features/dc25ce9ceac768cb","muflow/ml.compute_features/c48bed613d8e146c"],"depended_on_by":["muflow/ml.report/e8e067748c45ddd4","muflow/ml.report/33d8f592d859a320","muflow/ml.report/d273bbd8073ed48e"],"output_files":["model.pkl"],"analysis_id":null,"dependency_access_map":{"features:0":"muflow/ml.compute_features/6175259ffac837fa","features:1":"muflow/ml.compute_features/dc25ce9ceac768cb","features:2":"muflow/ml.compute_features/c48bed613d8e146c"}},"muflow/ml.loo/c5b97a840289f71a":{"key":"muflow/ml.loo/c5b97a840289f71a","function":"ml.loo","subject_key":"tag:1","kwargs":{"datasets":["a","b","c"],"leave_out_index":0},"storage_prefix":"muflow/ml.loo/c5b97a840289f71a","depends_on":["muflow/ml.compute_features/6175259ffac837fa","muflow/ml.compute_features/dc25ce9ceac768cb","muflow/ml.compute_features/c48bed613d8e146c"],"depended_on_by":["muflow/ml.report/e8e067748c45ddd4","muflow/ml.report/33d8f592d859a320","muflow/ml.report/d273bbd8073ed48e"],"output_files":[],"analysis_id":null,"dependency_access_map":{"features:0":"muflow/ml.compute_features/6175259ffac837fa","features:1":"muflow/ml.compute_features/dc25ce9ceac768cb","features:2":"muflow/ml.compute_features/c48bed613d8e146c"}},"muflow/ml.loo/cb085ea1230aaeac":{"key":"muflow/ml.loo/cb085ea1230aaeac","function":"ml.loo","subject_key":"tag:1","kwargs":{"datasets":["a","b","c"],"leave_out_index":1},"storage_prefix":"muflow/ml.loo/cb085ea1230aaeac","depends_on":["muflow/ml.compute_features/6175259ffac837fa","muflow/ml.compute_features/dc25ce9ceac768cb","muflow/ml.compute_features/c48bed613d8e146c"],"depended_on_by":["muflow/ml.report/e8e067748c45ddd4","muflow/ml.report/33d8f592d859a320","muflow/ml.report/d273bbd8073ed48e"],"output_files":[],"analysis_id":null,"dependency_access_map":{"features:0":"muflow/ml.compute_features/6175259ffac837fa","features:1":"muflow/ml.compute_features/dc25ce9ceac768cb","features:2":"muflow/ml.compute_features/c48bed613d8e146c"}},"muflow/ml.loo/8f90b6eac8ae45c5":{"key":"muflow/ml.loo/8f90b6eac8ae45c5","function":"ml.loo","subject_key":"tag:1","kwargs":{"datasets":["a","b","c"],"leave_out_index":2},"storage_prefix":"muflow/ml.loo/8f90b6eac8ae45c5","depends_on":["muflow/ml.compute_features/6175259ffac837fa","muflow/ml.compute_features/dc25ce9ceac768cb","muflow/ml.compute_features/c48bed613d8e146c"],"depended_on_by":["muflow/ml.report/e8e067748c45ddd4","muflow/ml.report/33d8f592d859a320","muflow/ml.report/d273bbd8073ed48e"],"output_files":[],"analysis_id":null,"dependency_access_map":{"features:0":"muflow/ml.compute_features/6175259ffac837fa","features:1":"muflow/ml.compute_features/dc25ce9ceac768cb","features:2":"muflow/ml.compute_features/c48bed613d8e146c"}},"muflow/ml.report/e8e067748c45ddd4":{"key":"muflow/ml.report/e8e067748c45ddd4","function":"ml.report","subject_key":"tag:1","kwargs":{"datasets":["a","b","c"],"format":"pdf"},"storage_prefix":"muflow/ml.report/e8e067748c45ddd4","depends_on":["muflow/ml.train/8b54bf2701aa2eda","muflow/ml.loo/c5b97a840289f71a","muflow/ml.loo/cb085ea1230aaeac","muflow/ml.loo/8f90b6eac8ae45c5"],"depended_on_by":["muflow/ml.pipeline/546d91d3813882ba"],"output_files":[],"analysis_id":null,"dependency_access_map":{"train":"muflow/ml.train/8b54bf2701aa2eda","loo_cv:0":"muflow/ml.loo/c5b97a840289f71a","loo_cv:1":"muflow/ml.loo/cb085ea1230aaeac","loo_cv:2":"muflow/ml.loo/8f90b6eac8ae45c5"}},"muflow/ml.report/33d8f592d859a320":{"key":"muflow/ml.report/33d8f592d859a320","function":"ml.report","subject_key":"tag:1","kwargs":{"datasets":["a","b","c"],"format":"csv"},"storage_prefix":"muflow/ml.report/33d8f592d859a320","depends_on":["muflow/ml.train/8b54bf2701aa2eda","muflow/ml.loo/c5b97a840289f71a","muflow/ml.loo/cb085ea1230aaeac","muflow/ml.loo/8f90b6eac8ae45c5"],"depended_on_by":["muflow/ml.pipeline/546d91d3813882ba"],"output_files":[],"analysis_id":null,"dependency_access_map":{"train":"muflow/ml.train/8b54bf2701aa2eda","loo_cv:0":"muflow/ml.loo/c5b97a840289f71a","loo_cv:1":"muflow/ml.loo/cb085ea1230aaeac","loo_cv:2":"muflow/ml.loo/8f90b6eac8ae45c5"}},"muflow/ml.report/d273bbd8073ed48e":{"key":"muflow/ml.report/d273bbd8073ed48e","function":"ml.report","subject_key":"tag:1","kwargs":{"datasets":["a","b","c"],"format":"html"},"storage_prefix":"muflow/ml.report/d273bbd8073ed48e","depends_on":["muflow/ml.train/8b54bf2701aa2eda","muflow/ml.loo/c5b97a840289f71a","muflow/ml.loo/cb085ea1230aaeac","muflow/ml.loo/8f90b6eac8ae45c5"],"depended_on_by":["muflow/ml.pipeline/546d91d3813882ba"],"output_files":[],"analysis_id":null,"dependency_access_map":{"train":"muflow/ml.train/8b54bf2701aa2eda","loo_cv:0":"muflow/ml.loo/c5b97a840289f71a","loo_cv:1":"muflow/ml.loo/cb085ea1230aaeac","loo_cv:2":"muflow/ml.loo/8f90b6eac8ae45c5"}},"muflow/ml.pipeline/546d91d3813882ba":{"key":"muflow/ml.pipeline/546d91d3813882ba","function":"ml.pipeline","subject_key":"tag:1","kwargs":{"datasets":["a","b","c"]},"storage_prefix":"muflow/ml.pipeline/546d91d3813882ba","depends_on":["muflow/ml.report/e8e067748c45ddd4","muflow/ml.report/33d8f592d859a320","muflow/ml.report/d273bbd8073ed48e"],"depended_on_by":[],"output_files":[],"analysis_id":null,"dependency_access_map":{}}},"root_key":"muflow/ml.pipeline/546d91d3813882ba"}"#

    private func take(_ pointer: UnsafeMutablePointer<CChar>?) -> String? {
        defer { mf_string_free(pointer) }
        return pointer.map { String(cString: $0) }
    }

    private func message() -> String { String(cString: mf_last_error_message()) }

    private func makeRegistry() -> OpaquePointer? {
        var registry: OpaquePointer?
        XCTAssertEqual(mf_registry_new(&registry), MF_OK)
        XCTAssertEqual(mf_registry_add(registry, #"{"name": "ml.compute_features", "identity_keys": ["dataset"], "output_files": ["features.json", "plot.png"]}"#), MF_OK)
        XCTAssertEqual(mf_registry_add(registry, #"{"name": "ml.train", "output_files": ["model.pkl"], "queue": "gpu"}"#), MF_OK)
        return registry
    }

    private func makeMLPipeline() -> OpaquePointer? {
        var pipeline: OpaquePointer?
        XCTAssertEqual(mf_pipeline_new(&pipeline, "ml.pipeline", "ML"), MF_OK)
        XCTAssertEqual(mf_pipeline_add_step(pipeline, "features", "ml.compute_features", MF_STEP_FOREACH, nil), MF_OK)
        XCTAssertEqual(mf_pipeline_add_step(pipeline, "train", "ml.train", MF_STEP_SINGLE, #"["features"]"#), MF_OK)
        XCTAssertEqual(mf_pipeline_add_step(pipeline, "loo_cv", "ml.loo", MF_STEP_FOREACH, #"["features"]"#), MF_OK)
        XCTAssertEqual(mf_pipeline_add_step(pipeline, "reports", "ml.report", MF_STEP_FOREACH, #"["train", "loo_cv"]"#), MF_OK)
        return pipeline
    }

    private func setJobs(_ pipeline: OpaquePointer?, _ step: String, _ json: String) -> mf_status {
        Array(json.utf8).withUnsafeBytes { mf_pipeline_set_step_jobs(pipeline, step, MF_FORMAT_JSON, $0.baseAddress, $0.count) }
    }

    private func build(_ pipeline: OpaquePointer?, _ registry: OpaquePointer?, kwargs: String = "{}", flags: UInt32 = 0,
                       callback: mf_jobs_callback? = nil, userData: UnsafeMutableRawPointer? = nil) -> (mf_status, OpaquePointer?) {
        var plan: OpaquePointer?
        let status = Array(kwargs.utf8).withUnsafeBytes {
            mf_pipeline_build(&plan, pipeline, registry, "tag:1", MF_FORMAT_JSON, $0.baseAddress, $0.count, nil, flags,
                              callback, userData)
        }
        return (status, plan)
    }

    private func toJSON(_ plan: OpaquePointer?) -> String? {
        var out: UnsafeMutablePointer<CChar>?
        var length = 0
        XCTAssertEqual(mf_plan_to_json(&out, &length, plan), MF_OK)
        if let out { XCTAssertEqual(strlen(out), length) }
        return take(out)
    }

    private func fromJSON(_ json: String) -> (mf_status, OpaquePointer?) {
        var plan: OpaquePointer?
        let status = mf_plan_from_json(&plan, json, json.utf8.count)
        return (status, plan)
    }

    func testLaidOutJSONGroupsAndNodeBatches() throws {
        let (status, plan) = fromJSON(Self.mlExpected)
        XCTAssertEqual(status, MF_OK)
        defer { mf_plan_free(plan) }

        var layout: OpaquePointer?
        var length = 0
        var ascii: Int32 = -1
        XCTAssertEqual(mf_plan_json_layout(&layout, &length, &ascii, plan), MF_OK)
        XCTAssertEqual(length, Self.mlExpected.utf8.count)
        XCTAssertEqual(ascii, 1)
        var written = [UInt8](repeating: 0, count: length)
        written.withUnsafeMutableBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { mf_plan_json_write($0.baseAddress, layout) }
        }
        mf_plan_json_free(layout)
        XCTAssertEqual(String(decoding: written, as: UTF8.self), Self.mlExpected)
        XCTAssertEqual(mf_plan_json_layout(&layout, &length, nil, plan), MF_ERR_INVALID_ARGUMENT)

        // Nodes 0-2 (features) depend on nothing, train and the loo nodes on the three
        // features (one group), reports on train and the loo nodes, the root on reports.
        var out: UnsafeMutablePointer<CChar>?
        XCTAssertEqual(mf_plan_dependency_groups(&out, plan), MF_OK)
        XCTAssertEqual(take(out), "[[0,0,0,1,1,1,1,2,2,2,3],[[],[0,1,2],[3,4,5,6],[7,8,9]]]")

        XCTAssertEqual(mf_plan_nodes_json(&out, &length, plan, 9, 5, 1 << 20), MF_OK)
        let two = try XCTUnwrap(take(out))
        XCTAssertEqual(two.utf8.count, length)
        XCTAssertTrue(two.hasPrefix(#"[{"key":"muflow/ml.report/d273bbd8073ed48e""#) && two.contains(#"},{"key":"muflow/ml.pipeline/"#), two)
        XCTAssertEqual(mf_plan_nodes_json(&out, &length, plan, 0, 5, 10), MF_OK)  // the budget stops it after one node
        XCTAssertEqual(take(out)?.components(separatedBy: #"{"key":"#).count, 2)
        XCTAssertEqual(mf_plan_nodes_json(&out, &length, plan, 11, 1, 100), MF_ERR_NOT_FOUND)
        XCTAssertEqual(mf_plan_nodes_json(&out, &length, plan, 0, 0, 100), MF_ERR_INVALID_ARGUMENT)
    }

    func testRegistry() {
        let registry = makeRegistry()
        defer { mf_registry_free(registry) }
        var out: UnsafeMutablePointer<CChar>?
        XCTAssertEqual(mf_registry_names(&out, registry), MF_OK)
        XCTAssertEqual(take(out), #"["ml.compute_features", "ml.train"]"#)
        XCTAssertEqual(mf_registry_get(&out, registry, "ml.train"), MF_OK)
        XCTAssertEqual(take(out), #"{"name": "ml.train", "display_name": "", "queue": "gpu", "identity_keys": null, "output_files": ["model.pkl"], "context_type": "task"}"#)
        XCTAssertEqual(mf_registry_add(registry, #"{"name": "ml.train"}"#), MF_ERR_ALREADY_EXISTS)
        XCTAssertEqual(message(), "Task 'ml.train' is already registered.")
        XCTAssertEqual(mf_registry_add(registry, #"{"name": "x", "outputs": []}"#), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_registry_add(registry, #"{"display_name": "x"}"#), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_registry_add(registry, #"{"name": "x""#), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_registry_add(registry, nil), MF_ERR_INVALID_ARGUMENT)
        out = nil
        XCTAssertEqual(mf_registry_get(&out, registry, "nope"), MF_ERR_NOT_FOUND)
        XCTAssertNil(out)
        XCTAssertEqual(mf_registry_remove(registry, "ml.train"), MF_OK)
        XCTAssertEqual(mf_registry_remove(registry, "ml.train"), MF_ERR_NOT_FOUND)
        XCTAssertEqual(mf_registry_clear(registry), MF_OK)
        XCTAssertEqual(mf_registry_names(&out, registry), MF_OK)
        XCTAssertEqual(take(out), "[]")
        mf_registry_free(nil)
    }

    func testMLPipelineWithJobsUpFrontMatchesMuflow() {
        let registry = makeRegistry()
        let pipeline = makeMLPipeline()
        defer { mf_registry_free(registry); mf_pipeline_free(pipeline) }
        XCTAssertEqual(setJobs(pipeline, "features", #"[{"dataset": "a"}, {"dataset": "b"}, {"dataset": "c"}]"#), MF_OK)
        XCTAssertEqual(setJobs(pipeline, "loo_cv", #"[{"leave_out_index": 0, "datasets": ["a", "b", "c"]}, {"leave_out_index": 1, "datasets": ["a", "b", "c"]}, {"leave_out_index": 2, "datasets": ["a", "b", "c"]}]"#), MF_OK)
        XCTAssertEqual(setJobs(pipeline, "reports", #"[{"format": "pdf"}, {"format": "csv"}, {"format": "html"}]"#), MF_OK)
        let (status, plan) = build(pipeline, registry, kwargs: #"{"datasets": ["a", "b", "c"]}"#)
        defer { mf_plan_free(plan) }
        XCTAssertEqual(status, MF_OK, message())
        XCTAssertEqual(mf_plan_node_count(plan), 11)
        XCTAssertEqual(String(cString: mf_plan_root_key(plan)), "muflow/ml.pipeline/546d91d3813882ba")
        XCTAssertEqual(toJSON(plan), Self.mlExpected)
    }

    /// The callback's state: the steps asked for, and the JSON handed back for each.
    private final class Jobs {
        var asked: [String] = []
        var answers: [String: [UInt8]]
        var failOn: String?
        init(_ answers: [String: String]) { self.answers = answers.mapValues { Array($0.utf8) } }
    }

    private static let callback: mf_jobs_callback = { userData, stepName, format, data, length in
        let jobs = Unmanaged<Jobs>.fromOpaque(userData!).takeUnretainedValue()
        let name = String(cString: stepName!)
        jobs.asked.append(name)
        if name == jobs.failOn { return MF_ERR_CANCELLED }
        guard let answer = jobs.answers[name] else { return MF_OK }
        format!.pointee = MF_FORMAT_JSON
        answer.withUnsafeBytes { data!.pointee = $0.baseAddress; length!.pointee = $0.count }
        return MF_OK
    }

    func testCallbackIsAskedOncePerStepInTopologicalOrder() {
        let registry = makeRegistry()
        let pipeline = makeMLPipeline()
        defer { mf_registry_free(registry); mf_pipeline_free(pipeline) }
        XCTAssertEqual(setJobs(pipeline, "reports", #"[{"format": "pdf"}, {"format": "csv"}, {"format": "html"}]"#), MF_OK)
        let jobs = Jobs([
            "features": #"[{"dataset": "a"}, {"dataset": "b"}, {"dataset": "c"}]"#,
            "loo_cv": #"[{"leave_out_index": 0, "datasets": ["a", "b", "c"]}, {"leave_out_index": 1, "datasets": ["a", "b", "c"]}, {"leave_out_index": 2, "datasets": ["a", "b", "c"]}]"#,
        ])
        let (status, plan) = withExtendedLifetime(jobs) {
            build(pipeline, registry, kwargs: #"{"datasets": ["a", "b", "c"]}"#, callback: Self.callback,
                  userData: Unmanaged.passUnretained(jobs).toOpaque())
        }
        defer { mf_plan_free(plan) }
        XCTAssertEqual(status, MF_OK, message())
        XCTAssertEqual(jobs.asked, ["features", "train", "loo_cv"])
        XCTAssertEqual(toJSON(plan), Self.mlExpected)
    }

    func testCallbackFailuresAndMisshapenItems() {
        let pipeline = makeMLPipeline()
        defer { mf_pipeline_free(pipeline) }
        let failing = Jobs(["features": "[]"])
        failing.failOn = "loo_cv"
        var (status, plan) = build(pipeline, nil, callback: Self.callback, userData: Unmanaged.passUnretained(failing).toOpaque())
        XCTAssertEqual(status, MF_ERR_CANCELLED)
        XCTAssertNil(plan)
        XCTAssertTrue(message().contains("'loo_cv'"), message())
        XCTAssertEqual(failing.asked, ["features", "train", "loo_cv"])

        let misshapen = Jobs(["features": #"[{"dataset": "a"}, 3]"#])
        (status, plan) = build(pipeline, nil, callback: Self.callback, userData: Unmanaged.passUnretained(misshapen).toOpaque())
        XCTAssertEqual(status, MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(message(), "item 1 of forEach step 'features' is not an object")

        (status, plan) = build(pipeline, nil)
        XCTAssertEqual(status, MF_ERR_INVALID_ARGUMENT)
        XCTAssertTrue(message().contains("forEach step 'features' has no items"), message())
        XCTAssertEqual(setJobs(pipeline, "features", #"[{"dataset": "a"}, "b"]"#), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(message(), "item 1 of forEach step 'features' is not an object")
        XCTAssertEqual(setJobs(pipeline, "train", "[]"), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(setJobs(pipeline, "nope", "[]"), MF_ERR_NOT_FOUND)
        XCTAssertEqual(build(pipeline, nil, kwargs: "[]").0, MF_ERR_TYPE)
    }

    func testStrictBuildNeedsRegisteredTasks() {
        let registry = makeRegistry()
        let pipeline = makeMLPipeline()
        defer { mf_registry_free(registry); mf_pipeline_free(pipeline) }
        let (status, plan) = build(pipeline, registry, flags: UInt32(MF_BUILD_STRICT))
        XCTAssertEqual(status, MF_ERR_NOT_FOUND)
        XCTAssertNil(plan)
        XCTAssertEqual(message(), "task 'ml.loo' of step 'loo_cv' is not registered")
    }

    func testPipelineValidation() {
        var pipeline: OpaquePointer?
        XCTAssertEqual(mf_pipeline_new(&pipeline, "p", nil), MF_OK)
        defer { mf_pipeline_free(pipeline) }
        XCTAssertEqual(mf_pipeline_add_step(pipeline, "c", "t", MF_STEP_SINGLE, #"["b", "a"]"#), MF_OK)
        XCTAssertEqual(mf_pipeline_add_step(pipeline, "a", "t", MF_STEP_SINGLE, nil), MF_OK)
        XCTAssertEqual(mf_pipeline_add_step(pipeline, "b", "t", MF_STEP_FOREACH, "[\"a\"]"), MF_OK)
        XCTAssertEqual(mf_pipeline_add_step(pipeline, "a", "t", MF_STEP_SINGLE, nil), MF_ERR_ALREADY_EXISTS)
        XCTAssertEqual(mf_pipeline_add_step(pipeline, "z", "t", mf_step_kind(rawValue: 7), nil), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_pipeline_add_step(pipeline, "z", "t", MF_STEP_SINGLE, "[1]"), MF_ERR_INVALID_ARGUMENT)
        var out: UnsafeMutablePointer<CChar>?
        XCTAssertEqual(mf_pipeline_validate(&out, pipeline), MF_OK)
        XCTAssertEqual(take(out), #"["a", "b", "c"]"#)
        XCTAssertEqual(mf_pipeline_add_step(pipeline, "d", "t", MF_STEP_SINGLE, #"["e"]"#), MF_OK)
        XCTAssertEqual(mf_pipeline_add_step(pipeline, "e", "t", MF_STEP_SINGLE, #"["d"]"#), MF_OK)
        XCTAssertEqual(mf_pipeline_validate(&out, pipeline), MF_ERR_CYCLE)
        XCTAssertEqual(message(), "Circular dependency among steps: d -> e -> d")
        XCTAssertEqual(mf_pipeline_add_step(pipeline, "x:1", "t", MF_STEP_SINGLE, nil), MF_OK)
        XCTAssertEqual(build(pipeline, nil).0, MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(message(), "Step name 'x:1' must not contain ':' (reserved for access key indexing).")
        XCTAssertEqual(mf_pipeline_new(nil, "p", nil), MF_ERR_INVALID_ARGUMENT)
        var unnamed: OpaquePointer?
        XCTAssertEqual(mf_pipeline_new(&unnamed, nil, nil), MF_ERR_INVALID_ARGUMENT)
        XCTAssertNil(unnamed)
    }

    func testPlanQueries() {
        let (status, plan) = fromJSON(Self.mlExpected)
        defer { mf_plan_free(plan) }
        XCTAssertEqual(status, MF_OK, message())
        XCTAssertEqual(toJSON(plan), Self.mlExpected)
        var index = 0
        XCTAssertEqual(mf_plan_node_index(&index, plan, "muflow/ml.train/8b54bf2701aa2eda"), MF_OK)
        XCTAssertEqual(index, 3)
        XCTAssertEqual(mf_plan_node_index(&index, plan, "nope"), MF_ERR_NOT_FOUND)

        func field(_ i: Int, _ f: mf_node_field) -> String? {
            var out: UnsafeMutablePointer<CChar>?
            var length = 0
            let status = mf_plan_node_field(&out, &length, plan, i, f)
            guard status == MF_OK else { return nil }
            return take(out)
        }
        XCTAssertEqual(field(3, MF_NODE_KEY), "muflow/ml.train/8b54bf2701aa2eda")
        XCTAssertEqual(field(3, MF_NODE_FUNCTION), "ml.train")
        XCTAssertEqual(field(3, MF_NODE_SUBJECT_KEY), "tag:1")
        XCTAssertEqual(field(3, MF_NODE_STORAGE_PREFIX), "muflow/ml.train/8b54bf2701aa2eda")
        XCTAssertEqual(field(3, MF_NODE_KWARGS), #"{"datasets":["a","b","c"]}"#)
        XCTAssertEqual(field(3, MF_NODE_OUTPUT_FILES), #"["model.pkl"]"#)
        XCTAssertEqual(field(3, MF_NODE_ANALYSIS_ID), "null")
        XCTAssertEqual(field(10, MF_NODE_DEPENDS_ON), #"["muflow/ml.report/e8e067748c45ddd4","muflow/ml.report/33d8f592d859a320","muflow/ml.report/d273bbd8073ed48e"]"#)
        XCTAssertEqual(field(7, MF_NODE_DEPENDED_ON_BY), #"["muflow/ml.pipeline/546d91d3813882ba"]"#)
        XCTAssertEqual(field(7, MF_NODE_ACCESS_MAP)?.hasPrefix(#"{"train":"muflow/ml.train/8b54bf2701aa2eda","loo_cv:0":"#), true)
        XCTAssertEqual(field(10, MF_NODE_JSON)?.hasPrefix(#"{"key":"muflow/ml.pipeline/546d91d3813882ba","function":"ml.pipeline""#), true)
        XCTAssertNil(field(11, MF_NODE_KEY))
        XCTAssertNil(field(0, mf_node_field(rawValue: 99)))

        var out: UnsafeMutablePointer<CChar>?
        XCTAssertEqual(mf_plan_leaf_nodes(&out, plan), MF_OK)
        XCTAssertEqual(take(out)?.components(separatedBy: ", ").count, 3)
        XCTAssertEqual(mf_plan_ready_nodes(&out, plan, "[]"), MF_OK)
        XCTAssertEqual(take(out)?.hasPrefix(#"["muflow/ml.compute_features/"#), true)
        XCTAssertEqual(mf_plan_ready_nodes(&out, plan, #"["muflow/ml.report/e8e067748c45ddd4", "muflow/ml.report/33d8f592d859a320", "muflow/ml.report/d273bbd8073ed48e"]"#), MF_OK)
        XCTAssertEqual(take(out)?.contains("ml.pipeline"), true)
        XCTAssertEqual(mf_plan_ready_nodes(&out, plan, "{}"), MF_ERR_INVALID_ARGUMENT)
        var complete: Int32 = -1
        XCTAssertEqual(mf_plan_is_complete(&complete, plan, #"["muflow/ml.pipeline/546d91d3813882ba"]"#), MF_OK)
        XCTAssertEqual(complete, 1)
        XCTAssertEqual(mf_plan_is_complete(&complete, plan, "[]"), MF_OK)
        XCTAssertEqual(complete, 0)
        XCTAssertEqual(mf_plan_levels(&out, plan), MF_OK)
        XCTAssertEqual(take(out)?.components(separatedBy: "], [").count, 4)
        XCTAssertEqual(mf_plan_node_keys(&out, plan), MF_OK)
        XCTAssertEqual(take(out)?.components(separatedBy: ", ").count, 11)
    }

    func testFromJSONErrors() {
        var (status, plan) = fromJSON(#"{"nodes": {}, "root_key": "k", "extra": 1}"#)
        XCTAssertEqual(status, MF_ERR_INVALID_ARGUMENT)
        XCTAssertNil(plan)
        XCTAssertEqual(message(), "invalid plan JSON: extra: extra inputs are not permitted")
        (status, plan) = fromJSON(#"{"nodes": {"a": {"key": "a", "function": "f", "subject_key": "s", "kwargs": {}, "storage_prefix": "p", "depends_on": ["a"]}}, "root_key": "a"}"#)
        XCTAssertEqual(status, MF_ERR_CYCLE)
        XCTAssertEqual(message(), "Circular dependency among plan nodes: a -> a")
        (status, plan) = fromJSON("{")
        XCTAssertEqual(status, MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_plan_from_json(&plan, nil, 0), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_plan_node_count(nil), 0)
        XCTAssertEqual(String(cString: mf_plan_root_key(nil)), "")
        var out: UnsafeMutablePointer<CChar>?
        XCTAssertEqual(mf_plan_to_json(&out, nil, nil), MF_ERR_INVALID_ARGUMENT)
        mf_plan_free(nil)
        mf_pipeline_free(nil)
    }
}
