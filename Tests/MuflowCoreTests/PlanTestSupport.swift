import XCTest
@testable import MuflowCore

/// Pipelines, registries and values shared by the Plan tests.
enum PlanFixture {
    static func value(_ json: String) -> JSONValue {
        Array(json.utf8).withUnsafeBytes { try! parseJSON($0, maxDepth: 1000) }
    }

    static func object(_ json: String) -> JSONObject {
        value(json).objectValue!
    }

    static func objects(_ json: String) -> [JSONObject] {
        value(json).arrayValue!.map { $0.objectValue! }
    }

    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    /// The tasks the oracle registered when it produced PlanExpected.
    static func registry() -> TaskRegistry {
        let registry = TaskRegistry()
        try! registry.add(TaskDescriptor(name: "ml.compute_features", identityKeys: ["dataset"],
                                         outputFiles: ["features.json", "plot.png"]))
        try! registry.add(TaskDescriptor(name: "ml.train", outputFiles: ["model.pkl"]))
        return registry
    }

    static func pipeline(_ name: JSONString, _ steps: [PipelineStep]) -> Pipeline {
        try! Pipeline(name: name, steps: steps)
    }

    static func step(_ name: JSONString, _ task: JSONString, forEach: Bool = false,
                     after: [JSONString] = []) -> PipelineStep {
        PipelineStep(name: name, task: task, kind: forEach ? .forEach : .single, after: after)
    }

    /// Builds with jobs looked up by step name; a single step without jobs gets `{}`.
    static func build(_ pipeline: Pipeline, subject: JSONString = "subj", kwargs: JSONObject = JSONObject(),
                      base: JSONString = "muflow", registry: TaskRegistry? = PlanFixture.registry(),
                      strict: Bool = false, jobs: [JSONString: [JSONObject]] = [:]) throws -> TaskPlan {
        try pipeline.buildPlan(subjectKey: subject, kwargs: kwargs, registry: registry,
                               options: PlanBuildOptions(basePrefix: base, strict: strict)) { step in
            jobs[step.name] ?? [JSONObject()]
        }
    }

    /// The seed's ML pipeline over `datasets`, every loo_cv item sharing one list.
    static func mlPipeline() -> Pipeline {
        pipeline("ml.pipeline", [
            step("features", "ml.compute_features", forEach: true),
            step("train", "ml.train", after: ["features"]),
            step("loo_cv", "ml.loo", forEach: true, after: ["features"]),
            step("reports", "ml.report", forEach: true, after: ["train", "loo_cv"]),
        ])
    }

    static func mlJobs(_ datasets: [JSONValue]) -> [JSONString: [JSONObject]] {
        let list = JSONValue.array(datasets)
        return [
            "features": datasets.map { JSONObject([("dataset", $0)]) },
            "loo_cv": datasets.indices.map { JSONObject([("leave_out_index", .int($0)), ("datasets", list)]) },
            "reports": ["pdf", "csv", "html"].map { JSONObject([("format", .string(JSONString($0)))]) },
        ]
    }

    static func mlPlan(_ count: Int, registry: TaskRegistry? = PlanFixture.registry()) throws -> TaskPlan {
        try mlPlan(names: (0..<count).map { "dataset_\($0)" }, registry: registry)
    }

    static func mlPlan(names: [String], registry: TaskRegistry? = PlanFixture.registry()) throws -> TaskPlan {
        let datasets = names.map { JSONValue.string(JSONString($0)) }
        return try build(mlPipeline(), subject: "tag:1", kwargs: JSONObject([("datasets", .array(datasets))]),
                         registry: registry, jobs: mlJobs(datasets))
    }

    static func error(_ body: () throws -> Any, file: StaticString = #filePath, line: UInt = #line) -> MuflowError? {
        do {
            _ = try body()
            XCTFail("expected an error", file: file, line: line)
        } catch let error as MuflowError {
            return error
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
        return nil
    }
}
