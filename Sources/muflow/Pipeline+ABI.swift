import CMuflowHeader
import MuflowCore
import MuflowPickle

/// The Swift object behind `mf_pipeline *`: the pipeline and the jobs supplied up front.
final class PipelineHandle {
    var pipeline: Pipeline
    var suppliedJobs: [JSONString: StepJobs] = [:]

    init(_ pipeline: Pipeline) { self.pipeline = pipeline }
}

@c @implementation
public func mf_pipeline_new(_ out: UnsafeMutablePointer<OpaquePointer?>?, _ name: UnsafePointer<CChar>?,
                            _ displayName: UnsafePointer<CChar>?) -> mf_status {
    abiCall {
        let out = try required(out, "out")
        let name = try utf8Argument(name, "name")
        let displayName = try displayName.map { try utf8Argument($0, "display_name") } ?? ""
        out.pointee = retainedHandle(PipelineHandle(try Pipeline(name: name, displayName: displayName)))
    }
}

@c @implementation
public func mf_pipeline_free(_ pipeline: OpaquePointer?) {
    releaseHandle(pipeline, as: PipelineHandle.self)
}

@c @implementation
public func mf_pipeline_add_step(_ pipeline: OpaquePointer?, _ name: UnsafePointer<CChar>?,
                                 _ task: UnsafePointer<CChar>?, _ kind: mf_step_kind,
                                 _ afterJSON: UnsafePointer<CChar>?) -> mf_status {
    abiCall {
        let handle = try requiredObject(pipeline, "pipeline", as: PipelineHandle.self)
        let name = try utf8Argument(name, "name")
        let task = try utf8Argument(task, "task")
        let stepKind: PipelineStep.Kind
        switch kind {
        case MF_STEP_SINGLE: stepKind = .single
        case MF_STEP_FOREACH: stepKind = .forEach
        default: throw invalidArgument("unknown mf_step_kind \(kind.rawValue)")
        }
        var after: [JSONString] = []
        if let value = try optionalJSONArgument(afterJSON) {
            guard case .array(let items) = value else { throw invalidArgument("after_json must be a JSON array of step names") }
            after = try items.map {
                guard case .string(let reference) = $0 else {
                    throw invalidArgument("after_json must be a JSON array of step names")
                }
                return reference
            }
        }
        try handle.pipeline.addStep(PipelineStep(name: name, task: task, kind: stepKind, after: after))
    }
}

@c @implementation
public func mf_pipeline_set_step_jobs(_ pipeline: OpaquePointer?, _ stepName: UnsafePointer<CChar>?,
                                      _ format: mf_format, _ data: UnsafeRawPointer?, _ length: Int) -> mf_status {
    abiCall {
        let handle = try requiredObject(pipeline, "pipeline", as: PipelineHandle.self)
        let name = try utf8Argument(stepName, "step_name")
        guard let step = handle.pipeline.step(named: name) else {
            throw MuflowError(.notFound, "pipeline '\(handle.pipeline.name)' has no step named '\(name)'")
        }
        handle.suppliedJobs[name] = try readJobs(of: step, format, data, length)
    }
}

@c @implementation
public func mf_pipeline_validate(_ outJSON: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                 _ pipeline: OpaquePointer?) -> mf_status {
    abiCall {
        let out = try required(outJSON, "out_json")
        let pipeline = try requiredObject(pipeline, "pipeline", as: PipelineHandle.self).pipeline
        let order = try pipeline.validatedOrder()
        deliver(asciiJSON(.array(order.map { .string(pipeline.steps[$0].name) })), to: out)
    }
}

@c @implementation
public func mf_pipeline_build(_ out: UnsafeMutablePointer<OpaquePointer?>?, _ pipeline: OpaquePointer?,
                              _ registry: OpaquePointer?, _ subjectKey: UnsafePointer<CChar>?,
                              _ kwargsFormat: mf_format, _ kwargs: UnsafeRawPointer?, _ kwargsLength: Int,
                              _ basePrefix: UnsafePointer<CChar>?, _ flags: UInt32,
                              _ jobsCallback: mf_jobs_callback?, _ userData: UnsafeMutableRawPointer?) -> mf_status {
    abiCall {
        let out = try required(out, "out")
        let handle = try requiredObject(pipeline, "pipeline", as: PipelineHandle.self)
        let registry = registry.map { object($0, as: TaskRegistry.self) }
        let subject = try utf8Argument(subjectKey, "subject_key")
        var pipelineKwargs = JSONObject()
        if kwargs != nil || kwargsLength != 0 {
            guard case .object(let object) = try readValue(kwargsFormat, kwargs, kwargsLength) else {
                throw MuflowError(.type, "kwargs must be an object")
            }
            pipelineKwargs = object
        }
        let base = try basePrefix.map { try utf8Argument($0, "base_prefix") } ?? "muflow"
        let options = PlanBuildOptions(basePrefix: base, strict: flags & UInt32(MF_BUILD_STRICT) != 0)
        // Copies, so that a callback changing the pipeline cannot disturb this build.
        let (steps, supplied) = (handle.pipeline, handle.suppliedJobs)
        let plan = try steps.buildPlanFromStepJobs(subjectKey: subject, kwargs: pipelineKwargs, registry: registry,
                                                   options: options) { step in
            if let jobs = supplied[step.name] { return jobs }
            return try askForJobs(of: step, callback: jobsCallback, userData: userData)
        }
        out.pointee = retainedHandle(PlanHandle(plan))
    }
}

private func askForJobs(of step: PipelineStep, callback: mf_jobs_callback?,
                        userData: UnsafeMutableRawPointer?) throws -> StepJobs {
    var format = MF_FORMAT_JSON
    var data: UnsafeRawPointer?
    var length = 0
    if let callback {
        let status = (step.name.utf8 + [0]).withUnsafeBufferPointer { name in
            name.withMemoryRebound(to: CChar.self) { callback(userData, $0.baseAddress, &format, &data, &length) }
        }
        guard status == MF_OK else { throw callbackFailure(status, step: step) }
    }
    guard data != nil else {
        if step.kind == .single { return StepJobs([JSONObject()]) }
        throw invalidArgument("forEach step '\(step.name)' has no items: supply them with mf_pipeline_set_step_jobs or the jobs callback")
    }
    return try readJobs(of: step, format, data, length)
}

/// A step's job kwargs from a value crossing the interface; a forEach step's pickled
/// items of plain scalars take the fast reader.
private func readJobs(of step: PipelineStep, _ format: mf_format, _ data: UnsafeRawPointer?,
                      _ length: Int) throws -> StepJobs {
    if step.kind == .forEach, format == MF_FORMAT_PICKLE, let data, length > 0, length <= Int(MF_MAX_VALUE_BYTES),
       let items = PickleItems.read(UnsafeRawBufferPointer(start: data, count: length), maxDepth: Int(MF_MAX_DEPTH)) {
        return items
    }
    return StepJobs(try jobs(of: step, from: try readValue(format, data, length)))
}

/// A step's job kwargs from a value: one object for a single step, an array of objects
/// for a forEach step (muflow fails on an item that is not a mapping).
private func jobs(of step: PipelineStep, from value: JSONValue) throws -> [JSONObject] {
    switch (step.kind, value) {
    case (.single, .object(let kwargs)):
        return [kwargs]
    case (.single, _):
        throw invalidArgument("the kwargs of step '\(step.name)' must be an object")
    case (.forEach, .array(let items)):
        return try items.enumerated().map { index, item in
            guard case .object(let kwargs) = item else {
                throw invalidArgument("item \(index) of forEach step '\(step.name)' is not an object")
            }
            return kwargs
        }
    case (.forEach, _):
        throw invalidArgument("the items of forEach step '\(step.name)' must be an array")
    }
}

private func callbackFailure(_ status: mf_status, step: PipelineStep) -> Error {
    let message = "the jobs callback failed for step '\(step.name)' (\(String(cString: mf_status_name(status))))"
    let kind: MuflowError.Kind? = switch status {
    case MF_ERR_INVALID_ARGUMENT: .invalidArgument
    case MF_ERR_NOT_FOUND: .notFound
    case MF_ERR_ALREADY_EXISTS: .alreadyExists
    case MF_ERR_PERMISSION: .permission
    case MF_ERR_CYCLE: .cycle
    case MF_ERR_IO: .io
    case MF_ERR_TASK_FAILED: .taskFailed
    case MF_ERR_CANCELLED: .cancelled
    case MF_ERR_TYPE: .type
    case MF_ERR_LIMIT: .limit
    case MF_ERR_MISSING_TASK: .missingTask
    default: nil
    }
    guard let kind else { return CallbackInternalError(message: message) }
    return MuflowError(kind, message)
}

private struct CallbackInternalError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
