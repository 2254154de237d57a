import CMuflowHeader
import Foundation
import Glibc
import TestSupport
import XCTest

/// Hostile input through the two headers (muflow.h, muflow_binding.h) only: NULL for every pointer a function takes, invalid
/// UTF-8 for every text it takes, nesting 100,000 deep, values over MF_MAX_VALUE_BYTES,
/// and names, prefixes and dependency keys that try to leave their directory. Each case
/// checks the status the header documents and that the message names the problem.
/// The list of (function, parameter) pairs to cover is read from the header itself, so
/// a function added later without a case here fails `testNull...` / `testInvalidUTF8...`.
final class HostileInputABITests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = makeTemporaryDirectory("hostile")
    }

    override func tearDown() {
        removeTree(directory)
    }

    // MARK: The header's functions and parameters

    private struct Parameter: Hashable {
        let function: String
        let name: String
    }

    /// Every function declared in muflow.h and muflow_binding.h with its parameters'
    /// declarations.
    private static let declarations: [(function: String, parameters: [String])] = {
        let include = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../include")
        var text = ["muflow.h", "muflow_binding.h"].map {
            (try? String(contentsOfFile: include.appendingPathComponent($0).standardized.path, encoding: .utf8)) ?? ""
        }.joined(separator: "\n")
        while let open = text.range(of: "/*"), let close = text.range(of: "*/", range: open.upperBound..<text.endIndex) {
            text.removeSubrange(open.lowerBound..<close.upperBound)
        }
        text = text.split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: "\n")
        var result: [(String, [String])] = []
        for var chunk in text.split(separator: ";").map(String.init) {
            if let brace = chunk.lastIndex(where: { $0 == "}" || $0 == "{" }) { chunk = String(chunk[chunk.index(after: brace)...]) }
            let trimmed = chunk.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.hasPrefix("typedef"), let open = trimmed.firstIndex(of: "("), trimmed.hasSuffix(")") else { continue }
            let head = trimmed[..<open]
            guard let name = head.split(whereSeparator: { " *\n".contains($0) }).last, name.hasPrefix("mf_") else { continue }
            let list = trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)]
            let parameters = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
                .filter { $0 != "void" }
            result.append((String(name), parameters))
        }
        return result
    }()

    private static func parameterName(_ declaration: String) -> String {
        String(declaration.split(whereSeparator: { " *".contains($0) }).last ?? "")
    }

    /// Parameters through which the library reads memory: pointers and callbacks, but
    /// not user_data (handed back, never read).
    private static var pointerParameters: Set<Parameter> {
        var set = Set<Parameter>()
        for (function, parameters) in declarations {
            for declaration in parameters where declaration.contains("*") || declaration.hasPrefix("mf_jobs_callback")
                || declaration.hasPrefix("mf_task_fn") || declaration.hasPrefix("mf_destroy_fn") {
                let name = parameterName(declaration)
                if name != "user_data" { set.insert(Parameter(function: function, name: name)) }
            }
        }
        return set
    }

    /// Parameters that carry text: NUL-terminated strings, and encoded values
    /// (`const void *` beside an mf_format). mf_storage_save's data is binary.
    private static var textParameters: Set<Parameter> {
        var set = Set<Parameter>()
        for (function, parameters) in declarations {
            let takesFormat = parameters.contains { $0.hasPrefix("mf_format ") }
            for declaration in parameters where declaration.hasPrefix("const char *")
                || (takesFormat && declaration.hasPrefix("const void *")) {
                set.insert(Parameter(function: function, name: parameterName(declaration)))
            }
        }
        return set
    }

    func testTheHeaderIsReadCompletely() {
        let names = Self.declarations.map(\.function)
        XCTAssertEqual(names.count, Set(names).count)
        XCTAssertGreaterThanOrEqual(names.count, 67)
        for expected in ["mf_version", "mf_json_canonical", "mf_storage_new_in", "mf_pipeline_build", "mf_run_execute"] {
            XCTAssertTrue(names.contains(expected), expected)
        }
        XCTAssertTrue(Self.pointerParameters.contains(Parameter(function: "mf_pipeline_build", name: "jobs")))
        XCTAssertTrue(Self.textParameters.contains(Parameter(function: "mf_compute_prefix", name: "data")))
        XCTAssertFalse(Self.textParameters.contains(Parameter(function: "mf_storage_save", name: "data")))
    }

    // MARK: Helpers

    private var covered = Set<Parameter>()

    private func message() -> String { String(cString: mf_last_error_message()) }

    private func take(_ pointer: UnsafeMutablePointer<CChar>?) -> String? {
        defer { mf_string_free(pointer) }
        return pointer.map { String(cString: $0) }
    }

    /// A call that must fail with `status` and a message containing `mentions`.
    private func check(_ function: String, _ parameter: String, _ status: mf_status, _ expected: mf_status,
                       mentions: String, file: StaticString = #filePath, line: UInt = #line) {
        covered.insert(Parameter(function: function, name: parameter))
        XCTAssertEqual(String(cString: mf_status_name(status)), String(cString: mf_status_name(expected)),
                       "\(function)(\(parameter))", file: file, line: line)
        XCTAssertTrue(message().contains(mentions), "\(function)(\(parameter)): '\(message())' lacks '\(mentions)'",
                      file: file, line: line)
    }

    /// NULL where the header allows none: MF_ERR_INVALID_ARGUMENT, "<parameter> must not be NULL".
    private func refusesNull(_ function: String, _ parameter: String, _ status: mf_status,
                             file: StaticString = #filePath, line: UInt = #line) {
        check(function, parameter, status, MF_ERR_INVALID_ARGUMENT, mentions: "\(parameter) must not be NULL", file: file, line: line)
    }

    /// NULL where the header documents a meaning for it; `holds` is that meaning.
    private func acceptsNull(_ function: String, _ parameter: String, _ holds: Bool,
                             file: StaticString = #filePath, line: UInt = #line) {
        covered.insert(Parameter(function: function, name: parameter))
        XCTAssertTrue(holds, "\(function)(\(parameter) = NULL): \(message())", file: file, line: line)
    }

    private static let badUTF8: [(String, [UInt8])] = [
        ("0xff 0xfe", [0xff, 0xfe]),
        ("a lone surrogate", [0xed, 0xa0, 0x80]),
        ("a truncated sequence", [0x61, 0xe2, 0x82]),
        ("a truncated sequence at the end", [0x61, 0xc3]),
        ("an overlong encoding", [0xc0, 0xaf]),
    ]

    /// `body` with a NUL-terminated C string holding `bytes`.
    private func cString<R>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) -> R) -> R {
        (bytes + [0]).withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) } }
    }

    private func bytes<R>(_ text: [UInt8], _ body: (UnsafeRawPointer, Int) -> R) -> R {
        text.withUnsafeBytes { body($0.baseAddress!, $0.count) }
    }

    /// Runs `call` with each invalid UTF-8 sequence inside `template` (at "@") and
    /// expects `status` with a message containing `mentions`. In a JSON string a lone
    /// surrogate encoded by itself is WTF-8, which JSON input admits (Python writes it
    /// with "surrogatepass", and so does the library): pass `surrogate`, the status the
    /// call then returns.
    private func refusesBadUTF8(_ function: String, _ parameter: String, in template: String = "@",
                                expect status: mf_status = MF_ERR_INVALID_ARGUMENT, mentions: String = "UTF-8",
                                surrogate: mf_status? = nil,
                                file: StaticString = #filePath, line: UInt = #line,
                                _ call: (UnsafePointer<CChar>, Int) -> mf_status) {
        for (what, bad) in Self.badUTF8 {
            let parts = template.split(separator: "@", omittingEmptySubsequences: false).map { Array($0.utf8) }
            let text = parts[0] + bad + parts[1]
            let result = cString(text) { call($0, text.count) }
            if let surrogate, bad == [0xed, 0xa0, 0x80] {
                XCTAssertEqual(String(cString: mf_status_name(result)), String(cString: mf_status_name(surrogate)),
                               "\(function)(\(parameter)) with a lone surrogate: \(message())", file: file, line: line)
                continue
            }
            check(function, parameter, result, status, mentions: mentions, file: file, line: line)
            if result != status { print("  with \(what)") }
        }
    }

    private func storage(_ name: String = "node") -> OpaquePointer? {
        var storage: OpaquePointer?
        XCTAssertEqual(mf_storage_new(&storage, directory + "/" + name, 0, nil), MF_OK, message())
        return storage
    }

    private func registry(_ names: [String] = ["h.t"]) -> OpaquePointer? {
        var registry: OpaquePointer?
        XCTAssertEqual(mf_registry_new(&registry), MF_OK)
        for name in names { XCTAssertEqual(mf_registry_add(registry, #"{"name": "\#(name)"}"#), MF_OK, message()) }
        return registry
    }

    private func pipeline(steps: [(String, String, String?)] = [("s", "h.t", nil)]) -> OpaquePointer? {
        var pipeline: OpaquePointer?
        XCTAssertEqual(mf_pipeline_new(&pipeline, "h.pipeline", nil), MF_OK)
        for (name, task, after) in steps {
            XCTAssertEqual(mf_pipeline_add_step(pipeline, name, task, MF_STEP_SINGLE, after), MF_OK, message())
        }
        return pipeline
    }

    private func build(_ pipeline: OpaquePointer?, _ registry: OpaquePointer?, kwargs: String = "{}",
                       base: String? = nil) -> (mf_status, OpaquePointer?) {
        var plan: OpaquePointer?
        let status = Array(kwargs.utf8).withUnsafeBytes {
            mf_pipeline_build(&plan, pipeline, registry, "k", MF_FORMAT_JSON, $0.baseAddress, $0.count,
                              base ?? directory + "/muflow", 0, nil, nil)
        }
        return (status, plan)
    }

    private func plan(_ registry: OpaquePointer?) -> OpaquePointer? {
        let pipeline = pipeline()
        defer { mf_pipeline_free(pipeline) }
        let (status, plan) = build(pipeline, registry)
        XCTAssertEqual(status, MF_OK, message())
        return plan
    }

    /// The handles the through-every-function cases share: a storage, a registry, a
    /// pipeline and a plan built with the registry.
    private struct Handles {
        let storage, registry, pipeline, plan: OpaquePointer?

        func free() {
            mf_plan_free(plan)
            mf_pipeline_free(pipeline)
            mf_registry_free(registry)
            mf_storage_free(storage)
        }
    }

    private func handles() -> Handles {
        let registry = registry()
        return Handles(storage: storage(), registry: registry, pipeline: pipeline(), plan: plan(registry))
    }

    /// A C task that records mf_task_call_* of its calls into a `Calls` box.
    fileprivate final class Calls: @unchecked Sendable {
        var failWith: [UInt8]?
        var failWithNULL = false
        var dependencies: [String] = []
        var dependencyReads: [mf_status] = []
        var opaque: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }
    }

    static let recordingTask: mf_task_fn = { userData, call in
        let calls = Unmanaged<Calls>.fromOpaque(userData!).takeUnretainedValue()
        let json = String(cString: mf_task_call_dependencies_json(call))
        calls.dependencies.append(json)
        // Open each dependency directory as a C task would, and try to read out of it.
        for prefix in HostileInputABITests.directories(inDependenciesJSON: json) {
            var dependency: OpaquePointer?
            guard mf_storage_new(&dependency, prefix, 0, nil) == MF_OK else { return MF_ERR_IO }
            defer { mf_storage_free(dependency) }
            for name in ["out.txt", "../out.txt", "/etc/passwd", ".."] {
                var path: UnsafeMutablePointer<CChar>?
                calls.dependencyReads.append(mf_storage_read_path(&path, dependency, name))
                mf_string_free(path)
            }
        }
        let storage = mf_task_call_storage(call)
        _ = mf_storage_save(storage, "out.txt", "x", 1, 0)
        if calls.failWithNULL {
            mf_task_fail(call, nil)
            return MF_ERR_IO
        }
        if let bad = calls.failWith {
            (bad + [0]).withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { mf_task_fail(call, $0.baseAddress) } }
            return MF_ERR_IO
        }
        return MF_OK
    }

    /// The string values of a compact JSON object of strings (what the task receives).
    static func directories(inDependenciesJSON json: String) -> [String] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: String] else { return [] }
        return Array(Set(object.values))
    }

    // MARK: NULL pointers

    func testNullPointersThroughEveryFunction() {
        let handles = handles()
        let (storage, registry, pipeline, plan) = (handles.storage, handles.registry, handles.pipeline, handles.plan)
        var run: OpaquePointer?
        XCTAssertEqual(mf_run_new(&run, plan, registry, MF_FAILURE_STOP, 0), MF_OK)
        defer {
            mf_run_free(run)
            handles.free()
        }
        var text: UnsafeMutablePointer<CChar>?
        var handle: OpaquePointer?
        var size = 0
        var flag: Int32 = 0
        let json = Array("{\"task\": \"t\"}".utf8)
        let array = Array("[{\"task\": \"t\"}]".utf8)
        var digest = [CChar](repeating: 0, count: 64)

        // Values and prefixes
        json.withUnsafeBytes { d in
            refusesNull("mf_json_canonical", "out", mf_json_canonical(nil, &size, MF_FORMAT_JSON, d.baseAddress, d.count))
            refusesNull("mf_json_canonical", "data", mf_json_canonical(&text, &size, MF_FORMAT_JSON, nil, d.count))
            acceptsNull("mf_json_canonical", "out_len", mf_json_canonical(&text, nil, MF_FORMAT_JSON, d.baseAddress, d.count) == MF_OK
                        && take(text) == #"{"task": "t"}"#)
            refusesNull("mf_compute_prefix", "out", mf_compute_prefix(nil, MF_FORMAT_JSON, d.baseAddress, d.count, "b", nil))
            refusesNull("mf_compute_prefix", "data", mf_compute_prefix(&text, MF_FORMAT_JSON, nil, 1, "b", nil))
            refusesNull("mf_compute_prefix", "base_prefix", mf_compute_prefix(&text, MF_FORMAT_JSON, d.baseAddress, d.count, nil, nil))
            acceptsNull("mf_compute_prefix", "identity_keys_json",
                        mf_compute_prefix(&text, MF_FORMAT_JSON, d.baseAddress, d.count, "b", nil) == MF_OK
                            && take(text)?.hasPrefix("b/t/") == true)
            refusesNull("mf_content_digest", "out", mf_content_digest(nil, MF_FORMAT_JSON, d.baseAddress, d.count))
            refusesNull("mf_content_digest", "data", mf_content_digest(&digest, MF_FORMAT_JSON, nil, 1))
        }
        array.withUnsafeBytes { d in
            refusesNull("mf_compute_prefixes", "out", mf_compute_prefixes(nil, MF_FORMAT_JSON, d.baseAddress, d.count, "b", nil))
            refusesNull("mf_compute_prefixes", "data", mf_compute_prefixes(&text, MF_FORMAT_JSON, nil, 1, "b", nil))
            refusesNull("mf_compute_prefixes", "base_prefix", mf_compute_prefixes(&text, MF_FORMAT_JSON, d.baseAddress, d.count, nil, nil))
            acceptsNull("mf_compute_prefixes", "identity_keys_json",
                        mf_compute_prefixes(&text, MF_FORMAT_JSON, d.baseAddress, d.count, "b", nil) == MF_OK
                            && take(text)?.hasPrefix("[\"b/t/") == true)
            refusesNull("mf_content_digests", "out", mf_content_digests(nil, 64, &size, MF_FORMAT_JSON, d.baseAddress, d.count))
            refusesNull("mf_content_digests", "out_count", mf_content_digests(&digest, 64, nil, MF_FORMAT_JSON, d.baseAddress, d.count))
            refusesNull("mf_content_digests", "data", mf_content_digests(&digest, 64, &size, MF_FORMAT_JSON, nil, 1))
        }
        // NULL data with length 0 is an empty input: malformed, but not a NULL read.
        check("mf_json_canonical", "data", mf_json_canonical(&text, nil, MF_FORMAT_JSON, nil, 0), MF_ERR_INVALID_ARGUMENT,
              mentions: "found the end of the input")
        acceptsNull("mf_string_free", "string", { mf_string_free(nil); return true }())
        acceptsNull("mf_status_name", "status", String(cString: mf_status_name(mf_status(rawValue: 99))) == "MF_ERR_UNKNOWN")

        // Storage
        refusesNull("mf_filename_validate", "name", mf_filename_validate(nil))
        refusesNull("mf_storage_new", "out", mf_storage_new(nil, directory + "/x", 0, nil))
        refusesNull("mf_storage_new", "path", mf_storage_new(&handle, nil, 0, nil))
        check("mf_storage_new", "allowed_outputs_json",
              mf_storage_new(&handle, directory + "/x", UInt32(MF_STORAGE_RESTRICT_OUTPUTS), nil), MF_ERR_INVALID_ARGUMENT,
              mentions: "allowed_outputs_json must be a JSON array")
        XCTAssertNil(handle)
        refusesNull("mf_storage_new_in", "out", mf_storage_new_in(nil, directory, "p", 0, nil))
        refusesNull("mf_storage_new_in", "base", mf_storage_new_in(&handle, nil, "p", 0, nil))
        refusesNull("mf_storage_new_in", "prefix", mf_storage_new_in(&handle, directory, nil, 0, nil))
        acceptsNull("mf_storage_new_in", "allowed_outputs_json", mf_storage_new_in(&handle, directory, "p", 0, nil) == MF_OK)
        mf_storage_free(handle)
        handle = nil
        acceptsNull("mf_storage_free", "storage", { mf_storage_free(nil); return true }())
        acceptsNull("mf_storage_path", "storage", String(cString: mf_storage_path(nil)) == "")
        refusesNull("mf_storage_save", "storage", mf_storage_save(nil, "a", "x", 1, 0))
        refusesNull("mf_storage_save", "name", mf_storage_save(storage, nil, "x", 1, 0))
        refusesNull("mf_storage_save", "data", mf_storage_save(storage, "a", nil, 1, 0))
        XCTAssertEqual(mf_storage_save(storage, "empty", nil, 0, 0), MF_OK, "NULL with length 0 is an empty file")
        refusesNull("mf_storage_begin_write", "out_path", mf_storage_begin_write(nil, storage, "b"))
        refusesNull("mf_storage_begin_write", "storage", mf_storage_begin_write(&text, nil, "b"))
        refusesNull("mf_storage_begin_write", "name", mf_storage_begin_write(&text, storage, nil))
        refusesNull("mf_storage_end_write", "storage", mf_storage_end_write(nil, "b", 1))
        refusesNull("mf_storage_end_write", "name", mf_storage_end_write(storage, nil, 1))
        refusesNull("mf_storage_read_path", "out_path", mf_storage_read_path(nil, storage, "a"))
        refusesNull("mf_storage_read_path", "storage", mf_storage_read_path(&text, nil, "a"))
        refusesNull("mf_storage_read_path", "name", mf_storage_read_path(&text, storage, nil))
        refusesNull("mf_storage_exists", "out_exists", mf_storage_exists(nil, storage, "a"))
        refusesNull("mf_storage_exists", "storage", mf_storage_exists(&flag, nil, "a"))
        refusesNull("mf_storage_exists", "name", mf_storage_exists(&flag, storage, nil))
        refusesNull("mf_storage_written_files", "out_json", mf_storage_written_files(nil, storage))
        refusesNull("mf_storage_written_files", "storage", mf_storage_written_files(&text, nil))
        acceptsNull("mf_storage_is_cached", "storage", mf_storage_is_cached(nil, MF_CACHE_CHECK_SIZES) == 0)
        refusesNull("mf_storage_check_manifests", "out_json", mf_storage_check_manifests(nil, "[]", MF_CACHE_CHECK_SIZES))
        refusesNull("mf_storage_check_manifests", "prefixes_json", mf_storage_check_manifests(&text, nil, MF_CACHE_CHECK_SIZES))
        refusesNull("mf_storage_write_manifest", "storage", mf_storage_write_manifest(nil))

        // Remote storage: the ledger
        refusesNull("mf_ledger_new", "out", mf_ledger_new(nil, 0, nil))
        check("mf_ledger_new", "allowed_outputs_json", mf_ledger_new(&handle, UInt32(MF_STORAGE_RESTRICT_OUTPUTS), nil),
              MF_ERR_INVALID_ARGUMENT, mentions: "allowed_outputs_json must be a JSON array")
        XCTAssertNil(handle)
        XCTAssertEqual(mf_ledger_new(&handle, 0, nil), MF_OK, "without the flag, NULL allows any name")
        refusesNull("mf_ledger_claim", "ledger", mf_ledger_claim(nil, "a", 0))
        refusesNull("mf_ledger_claim", "name", mf_ledger_claim(handle, nil, 0))
        XCTAssertEqual(mf_ledger_claim(handle, "a", 0), MF_OK)
        refusesNull("mf_ledger_commit", "ledger", mf_ledger_commit(nil, "a", "x", 1))
        refusesNull("mf_ledger_commit", "name", mf_ledger_commit(handle, nil, "x", 1))
        refusesNull("mf_ledger_commit", "data", mf_ledger_commit(handle, "a", nil, 1))
        XCTAssertEqual(mf_ledger_commit(handle, "a", nil, 0), MF_OK, "NULL with length 0 is an empty file")
        refusesNull("mf_ledger_release", "ledger", mf_ledger_release(nil, "a"))
        refusesNull("mf_ledger_release", "name", mf_ledger_release(handle, nil))
        refusesNull("mf_ledger_written_files", "out_json", mf_ledger_written_files(nil, handle))
        refusesNull("mf_ledger_written_files", "ledger", mf_ledger_written_files(&text, nil))
        refusesNull("mf_ledger_manifest", "out", mf_ledger_manifest(nil, &size, handle, nil))
        refusesNull("mf_ledger_manifest", "ledger", mf_ledger_manifest(&text, &size, nil, nil))
        acceptsNull("mf_ledger_manifest", "out_len",
                    mf_ledger_manifest(&text, nil, handle, nil) == MF_OK && take(text)?.contains(#""a": 0"#) == true)
        acceptsNull("mf_ledger_manifest", "inputs_json",
                    mf_ledger_manifest(&text, nil, handle, nil) == MF_OK && take(text)?.contains("inputs") == false)
        mf_ledger_free(handle)
        handle = nil
        acceptsNull("mf_ledger_free", "ledger", { mf_ledger_free(nil); return true }())

        // The stale-input check of remote storage
        refusesNull("mf_manifest_digests", "out_json", mf_manifest_digests(nil, "{}", 2))
        refusesNull("mf_manifest_digests", "manifest", mf_manifest_digests(&text, nil, 2))
        var state: Int32 = -1
        refusesNull("mf_node_cache_state", "out_state", mf_node_cache_state(nil, nil, 0, "{}"))
        refusesNull("mf_node_cache_state", "inputs_json", mf_node_cache_state(&state, nil, 0, nil))
        acceptsNull("mf_node_cache_state", "manifest",
                    mf_node_cache_state(&state, nil, 0, "{}") == MF_OK && state == Int32(MF_NODE_ABSENT))
        refusesNull("mf_plan_cache_states", "out_json", mf_plan_cache_states(nil, plan, "{}"))
        refusesNull("mf_plan_cache_states", "plan", mf_plan_cache_states(&text, nil, "{}"))
        refusesNull("mf_plan_cache_states", "manifests_json", mf_plan_cache_states(&text, plan, nil))
        refusesNull("mf_storage_write_manifest_inputs", "storage", mf_storage_write_manifest_inputs(nil, "{}"))
        refusesNull("mf_storage_write_manifest_inputs", "inputs_json", mf_storage_write_manifest_inputs(storage, nil))

        // Registry
        refusesNull("mf_registry_new", "out", mf_registry_new(nil))
        acceptsNull("mf_registry_free", "registry", { mf_registry_free(nil); return true }())
        refusesNull("mf_registry_add", "registry", mf_registry_add(nil, #"{"name": "x"}"#))
        refusesNull("mf_registry_add", "descriptor_json", mf_registry_add(registry, nil))
        refusesNull("mf_registry_remove", "registry", mf_registry_remove(nil, "h.t"))
        refusesNull("mf_registry_remove", "name", mf_registry_remove(registry, nil))
        refusesNull("mf_registry_get", "out_json", mf_registry_get(nil, registry, "h.t"))
        refusesNull("mf_registry_get", "registry", mf_registry_get(&text, nil, "h.t"))
        refusesNull("mf_registry_get", "name", mf_registry_get(&text, registry, nil))
        refusesNull("mf_registry_names", "out_json", mf_registry_names(nil, registry))
        refusesNull("mf_registry_names", "registry", mf_registry_names(&text, nil))
        refusesNull("mf_registry_clear", "registry", mf_registry_clear(nil))
        refusesNull("mf_registry_set_function", "registry", mf_registry_set_function(nil, "h.t", Self.recordingTask, nil, nil))
        refusesNull("mf_registry_set_function", "name", mf_registry_set_function(registry, nil, Self.recordingTask, nil, nil))
        refusesNull("mf_registry_set_function", "function", mf_registry_set_function(registry, "h.t", nil, nil, nil))
        acceptsNull("mf_registry_set_function", "destroy", mf_registry_set_function(registry, "h.t", Self.recordingTask, nil, nil) == MF_OK)

        // Pipelines
        refusesNull("mf_pipeline_new", "out", mf_pipeline_new(nil, "p", nil))
        refusesNull("mf_pipeline_new", "name", mf_pipeline_new(&handle, nil, nil))
        acceptsNull("mf_pipeline_new", "display_name", mf_pipeline_new(&handle, "p", nil) == MF_OK)
        mf_pipeline_free(handle)
        handle = nil
        acceptsNull("mf_pipeline_free", "pipeline", { mf_pipeline_free(nil); return true }())
        refusesNull("mf_pipeline_add_step", "pipeline", mf_pipeline_add_step(nil, "s2", "h.t", MF_STEP_SINGLE, nil))
        refusesNull("mf_pipeline_add_step", "name", mf_pipeline_add_step(pipeline, nil, "h.t", MF_STEP_SINGLE, nil))
        refusesNull("mf_pipeline_add_step", "task", mf_pipeline_add_step(pipeline, "s2", nil, MF_STEP_SINGLE, nil))
        acceptsNull("mf_pipeline_add_step", "after_json", mf_pipeline_add_step(pipeline, "s2", "h.t", MF_STEP_SINGLE, nil) == MF_OK)
        refusesNull("mf_pipeline_set_step_jobs", "pipeline", mf_pipeline_set_step_jobs(nil, "s", MF_FORMAT_JSON, "{}", 2))
        refusesNull("mf_pipeline_set_step_jobs", "step_name", mf_pipeline_set_step_jobs(pipeline, nil, MF_FORMAT_JSON, "{}", 2))
        refusesNull("mf_pipeline_set_step_jobs", "data", mf_pipeline_set_step_jobs(pipeline, "s", MF_FORMAT_JSON, nil, 2))
        refusesNull("mf_pipeline_validate", "out_json", mf_pipeline_validate(nil, pipeline))
        refusesNull("mf_pipeline_validate", "pipeline", mf_pipeline_validate(&text, nil))
        refusesNull("mf_pipeline_build", "out",
                    mf_pipeline_build(nil, pipeline, registry, "k", MF_FORMAT_JSON, nil, 0, "b", 0, nil, nil))
        refusesNull("mf_pipeline_build", "pipeline",
                    mf_pipeline_build(&handle, nil, registry, "k", MF_FORMAT_JSON, nil, 0, "b", 0, nil, nil))
        refusesNull("mf_pipeline_build", "subject_key",
                    mf_pipeline_build(&handle, pipeline, registry, nil, MF_FORMAT_JSON, nil, 0, "b", 0, nil, nil))
        check("mf_pipeline_build", "kwargs", mf_pipeline_build(&handle, pipeline, registry, "k", MF_FORMAT_JSON, nil, 2, "b", 0, nil, nil),
              MF_ERR_INVALID_ARGUMENT, mentions: "must not be NULL")
        // registry, kwargs (length 0), base_prefix and jobs may all be NULL.
        let built = mf_pipeline_build(&handle, pipeline, nil, "k", MF_FORMAT_JSON, nil, 0, nil, 0, nil, nil)
        for parameter in ["registry", "base_prefix", "jobs"] {
            acceptsNull("mf_pipeline_build", parameter, built == MF_OK && String(cString: mf_plan_root_key(handle)).hasPrefix("muflow/h.t/"))
        }
        mf_plan_free(handle)
        handle = nil

        // Plans
        acceptsNull("mf_plan_free", "plan", { mf_plan_free(nil); return true }())
        refusesNull("mf_plan_to_json", "out", mf_plan_to_json(nil, &size, plan))
        refusesNull("mf_plan_to_json", "plan", mf_plan_to_json(&text, &size, nil))
        acceptsNull("mf_plan_to_json", "out_len", mf_plan_to_json(&text, nil, plan) == MF_OK && take(text)?.hasPrefix("{\"nodes\"") == true)
        refusesNull("mf_plan_from_json", "out", mf_plan_from_json(nil, "{}", 2))
        refusesNull("mf_plan_from_json", "json", mf_plan_from_json(&handle, nil, 2))
        acceptsNull("mf_plan_node_count", "plan", mf_plan_node_count(nil) == 0)
        acceptsNull("mf_plan_root_key", "plan", String(cString: mf_plan_root_key(nil)) == "")
        acceptsNull("mf_plan_root_index", "plan", mf_plan_root_index(nil) == 0)
        refusesNull("mf_plan_node_index", "out_index", mf_plan_node_index(nil, plan, "k"))
        refusesNull("mf_plan_node_index", "plan", mf_plan_node_index(&size, nil, "k"))
        refusesNull("mf_plan_node_index", "key", mf_plan_node_index(&size, plan, nil))
        refusesNull("mf_plan_node_field", "out", mf_plan_node_field(nil, &size, plan, 0, MF_NODE_KEY))
        refusesNull("mf_plan_node_field", "plan", mf_plan_node_field(&text, &size, nil, 0, MF_NODE_KEY))
        acceptsNull("mf_plan_node_field", "out_len", mf_plan_node_field(&text, nil, plan, 0, MF_NODE_FUNCTION) == MF_OK && take(text) == "h.t")
        refusesNull("mf_plan_nodes_json", "out", mf_plan_nodes_json(nil, &size, plan, 0, 1, 1 << 20))
        refusesNull("mf_plan_nodes_json", "plan", mf_plan_nodes_json(&text, &size, nil, 0, 1, 1 << 20))
        acceptsNull("mf_plan_nodes_json", "out_len",
                    mf_plan_nodes_json(&text, nil, plan, 0, 1, 1 << 20) == MF_OK && take(text)?.hasPrefix("[{") == true)
        refusesNull("mf_plan_node_keys", "out_json", mf_plan_node_keys(nil, plan))
        refusesNull("mf_plan_node_keys", "plan", mf_plan_node_keys(&text, nil))
        refusesNull("mf_plan_field_values", "out_json", mf_plan_field_values(nil, plan, MF_NODE_KEY))
        refusesNull("mf_plan_field_values", "plan", mf_plan_field_values(&text, nil, MF_NODE_KEY))
        refusesNull("mf_plan_leaf_nodes", "out_json", mf_plan_leaf_nodes(nil, plan))
        refusesNull("mf_plan_leaf_nodes", "plan", mf_plan_leaf_nodes(&text, nil))
        refusesNull("mf_plan_ready_nodes", "out_json", mf_plan_ready_nodes(nil, plan, "[]"))
        refusesNull("mf_plan_ready_nodes", "plan", mf_plan_ready_nodes(&text, nil, "[]"))
        refusesNull("mf_plan_ready_nodes", "completed_json", mf_plan_ready_nodes(&text, plan, nil))
        // The ready tracker, write rules, prefix selection
        var tracker: OpaquePointer?
        refusesNull("mf_ready_tracker_new", "out", mf_ready_tracker_new(nil, plan))
        refusesNull("mf_ready_tracker_new", "plan", mf_ready_tracker_new(&tracker, nil))
        XCTAssertEqual(mf_ready_tracker_new(&tracker, plan), MF_OK)
        var ready: UnsafePointer<Int>?
        var readyCount = 0
        refusesNull("mf_ready_tracker_add_nodes", "out_ready", mf_ready_tracker_add_nodes(nil, &readyCount, tracker, nil, 0))
        refusesNull("mf_ready_tracker_add_nodes", "out_count", mf_ready_tracker_add_nodes(&ready, nil, tracker, nil, 0))
        refusesNull("mf_ready_tracker_add_nodes", "tracker", mf_ready_tracker_add_nodes(&ready, &readyCount, nil, nil, 0))
        refusesNull("mf_ready_tracker_add_nodes", "nodes", mf_ready_tracker_add_nodes(&ready, &readyCount, tracker, nil, 1))
        acceptsNull("mf_ready_tracker_add_nodes", "nodes",
                    mf_ready_tracker_add_nodes(&ready, &readyCount, tracker, nil, 0) == MF_OK && readyCount > 0)
        refusesNull("mf_ready_tracker_update", "out_ready", mf_ready_tracker_update(nil, &readyCount, tracker, nil, nil))
        refusesNull("mf_ready_tracker_update", "out_count", mf_ready_tracker_update(&ready, nil, tracker, nil, nil))
        refusesNull("mf_ready_tracker_update", "tracker", mf_ready_tracker_update(&ready, &readyCount, nil, nil, nil))
        acceptsNull("mf_ready_tracker_update", "added_json",
                    mf_ready_tracker_update(&ready, &readyCount, tracker, nil, "[]") == MF_OK && readyCount > 0)
        acceptsNull("mf_ready_tracker_update", "removed_json",
                    mf_ready_tracker_update(&ready, &readyCount, tracker, "[]", nil) == MF_OK && readyCount > 0)
        mf_ready_tracker_free(tracker)
        acceptsNull("mf_ready_tracker_free", "tracker", { mf_ready_tracker_free(nil); return true }())
        refusesNull("mf_filename_check_write", "name", mf_filename_check_write(nil, 0, 0))
        refusesNull("mf_filename_protected", "out_json", mf_filename_protected(nil))
        refusesNull("mf_prefix_selection", "out_json", mf_prefix_selection(nil))
        let machineOptions = #"{"function_arn": "arn:f", "bucket": "b", "plan_key": "k"}"#
        refusesNull("mf_plan_state_machine", "out", mf_plan_state_machine(nil, &size, plan, machineOptions))
        refusesNull("mf_plan_state_machine", "plan", mf_plan_state_machine(&text, &size, nil, machineOptions))
        refusesNull("mf_plan_state_machine", "options_json", mf_plan_state_machine(&text, &size, plan, nil))
        acceptsNull("mf_plan_state_machine", "out_len",
                    mf_plan_state_machine(&text, nil, plan, machineOptions) == MF_OK && take(text)?.contains("definition") == true)
        refusesNull("mf_plan_store_json", "out", mf_plan_store_json(nil, &size, plan))
        refusesNull("mf_plan_store_json", "plan", mf_plan_store_json(&text, &size, nil))
        acceptsNull("mf_plan_store_json", "out_len",
                    mf_plan_store_json(&text, nil, plan) == MF_OK && take(text)?.hasPrefix(#"{"format""#) == true)
        refusesNull("mf_state_machine_name", "out", mf_state_machine_name(nil, "p", "k"))
        refusesNull("mf_state_machine_name", "prefix", mf_state_machine_name(&text, nil, "k"))
        refusesNull("mf_state_machine_name", "root_key", mf_state_machine_name(&text, "p", nil))
        refusesNull("mf_plan_is_complete", "out_complete", mf_plan_is_complete(nil, plan, "[]"))
        refusesNull("mf_plan_is_complete", "plan", mf_plan_is_complete(&flag, nil, "[]"))
        refusesNull("mf_plan_is_complete", "completed_json", mf_plan_is_complete(&flag, plan, nil))
        refusesNull("mf_plan_levels", "out_json", mf_plan_levels(nil, plan))
        refusesNull("mf_plan_levels", "plan", mf_plan_levels(&text, nil))
        refusesNull("mf_plan_sentinel_index", "out_found", mf_plan_sentinel_index(nil, &size, plan))
        refusesNull("mf_plan_sentinel_index", "out_index", mf_plan_sentinel_index(&flag, nil, plan))
        refusesNull("mf_plan_sentinel_index", "plan", mf_plan_sentinel_index(&flag, &size, nil))
        refusesNull("mf_plan_check_tasks", "plan", mf_plan_check_tasks(nil, registry))
        refusesNull("mf_plan_check_tasks", "registry", mf_plan_check_tasks(plan, nil))
        refusesNull("mf_plan_dependency_groups", "out_json", mf_plan_dependency_groups(nil, plan))
        refusesNull("mf_plan_dependency_groups", "plan", mf_plan_dependency_groups(&text, nil))
        var ascii: Int32 = 0
        refusesNull("mf_plan_json_layout", "out", mf_plan_json_layout(nil, &size, &ascii, plan))
        refusesNull("mf_plan_json_layout", "out_len", mf_plan_json_layout(&handle, nil, &ascii, plan))
        refusesNull("mf_plan_json_layout", "out_ascii", mf_plan_json_layout(&handle, &size, nil, plan))
        refusesNull("mf_plan_json_layout", "plan", mf_plan_json_layout(&handle, &size, &ascii, nil))
        XCTAssertEqual(mf_plan_json_layout(&handle, &size, &ascii, plan), MF_OK)
        var written = [CChar](repeating: 0, count: size + 1)
        acceptsNull("mf_plan_json_write", "layout", { mf_plan_json_write(&written, nil); return written.allSatisfy { $0 == 0 } }())
        acceptsNull("mf_plan_json_write", "out", { mf_plan_json_write(nil, handle); return true }())
        mf_plan_json_write(&written, handle)
        XCTAssertTrue(String(cString: written).hasPrefix("{\"nodes\""))
        mf_plan_json_free(handle)
        handle = nil
        acceptsNull("mf_plan_json_free", "layout", { mf_plan_json_free(nil); return true }())
        refusesNull("mf_node_pickler_new", "out", mf_node_pickler_new(nil, plan))
        refusesNull("mf_node_pickler_new", "plan", mf_node_pickler_new(&handle, nil))
        XCTAssertEqual(mf_node_pickler_new(&handle, plan), MF_OK)
        acceptsNull("mf_node_pickler_shared_count", "pickler", mf_node_pickler_shared_count(nil) == 0)
        refusesNull("mf_node_pickler_nodes", "out", mf_node_pickler_nodes(nil, &size, handle, 0, 1, 1 << 20))
        refusesNull("mf_node_pickler_nodes", "out_len", mf_node_pickler_nodes(&text, nil, handle, 0, 1, 1 << 20))
        refusesNull("mf_node_pickler_nodes", "pickler", mf_node_pickler_nodes(&text, &size, nil, 0, 1, 1 << 20))
        refusesNull("mf_node_pickler_shared", "out", mf_node_pickler_shared(nil, &size, handle, 0))
        refusesNull("mf_node_pickler_shared", "out_len", mf_node_pickler_shared(&text, nil, handle, 0))
        refusesNull("mf_node_pickler_shared", "pickler", mf_node_pickler_shared(&text, &size, nil, 0))
        XCTAssertEqual(mf_node_pickler_nodes(&text, &size, handle, 0, 1, 1 << 20), MF_OK)
        XCTAssertEqual(text.map { UInt8(bitPattern: $0[0]) }, 0x80)
        mf_string_free(text)
        text = nil
        mf_node_pickler_free(handle)
        handle = nil
        acceptsNull("mf_node_pickler_free", "pickler", { mf_node_pickler_free(nil); return true }())

        // Runs
        var kind = MF_EVENT_DONE
        var progress = mf_run_progress(); progress.size = MemoryLayout<mf_run_progress>.size
        refusesNull("mf_run_new", "out", mf_run_new(nil, plan, registry, MF_FAILURE_STOP, 0))
        refusesNull("mf_run_new", "plan", mf_run_new(&handle, nil, registry, MF_FAILURE_STOP, 0))
        acceptsNull("mf_run_new", "registry", mf_run_new(&handle, plan, nil, MF_FAILURE_STOP, 0) == MF_OK)
        mf_run_free(handle)
        handle = nil
        acceptsNull("mf_run_free", "run", { mf_run_free(nil); return true }())
        acceptsNull("mf_run_cancel", "run", { mf_run_cancel(nil); return true }())
        refusesNull("mf_run_next", "run", mf_run_next(&kind, &size, nil))
        refusesNull("mf_run_next", "out_kind", mf_run_next(nil, &size, run))
        refusesNull("mf_run_next", "out_index", mf_run_next(&kind, nil, run))
        refusesNull("mf_run_node_storage", "out", mf_run_node_storage(nil, run, 0))
        refusesNull("mf_run_node_storage", "run", mf_run_node_storage(&handle, nil, 0))
        refusesNull("mf_run_finish_node", "run", mf_run_finish_node(nil, 0, 1, nil, nil))
        refusesNull("mf_run_get_progress", "run", mf_run_get_progress(&progress, nil))
        refusesNull("mf_run_get_progress", "out", mf_run_get_progress(nil, run))
        refusesNull("mf_run_first_failure", "out", mf_run_first_failure(nil, run))
        refusesNull("mf_run_first_failure", "run", mf_run_first_failure(&text, nil))
        refusesNull("mf_run_node_failure", "out", mf_run_node_failure(nil, run, 0))
        refusesNull("mf_run_node_failure", "run", mf_run_node_failure(&text, nil, 0))
        var kinds = [mf_event_kind](repeating: MF_EVENT_DONE, count: 4)
        var indices = [Int](repeating: 0, count: 4)
        refusesNull("mf_run_next_nodes", "run", mf_run_next_nodes(&kinds, &indices, &size, nil, 4, 1))
        refusesNull("mf_run_next_nodes", "out_kinds", mf_run_next_nodes(nil, &indices, &size, run, 4, 1))
        refusesNull("mf_run_next_nodes", "out_indices", mf_run_next_nodes(&kinds, nil, &size, run, 4, 1))
        refusesNull("mf_run_next_nodes", "out_count", mf_run_next_nodes(&kinds, &indices, nil, run, 4, 1))
        refusesNull("mf_run_finish_nodes", "run", mf_run_finish_nodes(nil, &indices, 1))
        refusesNull("mf_run_finish_nodes", "indices", mf_run_finish_nodes(run, nil, 1))
        XCTAssertEqual(mf_run_finish_nodes(run, nil, 0), MF_OK, "no nodes: nothing to read")
        refusesNull("mf_run_return_nodes", "run", mf_run_return_nodes(nil, &indices, 1))
        refusesNull("mf_run_return_nodes", "indices", mf_run_return_nodes(run, nil, 1))
        XCTAssertEqual(mf_run_return_nodes(run, nil, 0), MF_OK, "no nodes: nothing to read")
        refusesNull("mf_run_execute", "run", mf_run_execute(nil, registry, 1))
        refusesNull("mf_run_execute", "registry", mf_run_execute(run, nil, 1))
        acceptsNull("mf_task_call_index", "call", mf_task_call_index(nil) == 0)
        acceptsNull("mf_task_call_function", "call", String(cString: mf_task_call_function(nil)) == "")
        acceptsNull("mf_task_call_kwargs_json", "call", String(cString: mf_task_call_kwargs_json(nil)) == "{}")
        acceptsNull("mf_task_call_dependencies_json", "call", String(cString: mf_task_call_dependencies_json(nil)) == "{}")
        acceptsNull("mf_task_call_storage", "call", mf_task_call_storage(nil) == nil)
        acceptsNull("mf_task_fail", "call", { mf_task_fail(nil, "ignored"); return true }())

        // The pull API with NULL messages: the node fails with "task failed".
        XCTAssertEqual(mf_run_next(&kind, &size, run), MF_OK)
        XCTAssertEqual(kind, MF_EVENT_RUN)
        acceptsNull("mf_run_finish_node", "error_message", mf_run_finish_node(run, size, 0, nil, nil) == MF_OK)
        covered.insert(Parameter(function: "mf_run_finish_node", name: "error_traceback"))
        XCTAssertEqual(mf_run_first_failure(&text, run), MF_OK)
        XCTAssertTrue(take(text)?.contains("task failed") ?? false)

        // mf_task_fail with a NULL message, from a C task: the status is reported.
        let calls = Calls()
        calls.failWithNULL = true
        XCTAssertEqual(mf_registry_set_function(registry, "h.t", Self.recordingTask, calls.opaque, nil), MF_OK)
        var second: OpaquePointer?
        XCTAssertEqual(mf_run_new(&second, plan, registry, MF_FAILURE_STOP, 0), MF_OK)
        let executed = mf_run_execute(second, registry, 1)
        acceptsNull("mf_task_fail", "message", executed == MF_ERR_TASK_FAILED && message().contains("task returned MF_ERR_IO"))
        mf_run_free(second)
        XCTAssertEqual(mf_run_first_failure(&text, run), MF_OK)
        mf_string_free(text)

        // Failed-node reports: texts with their lengths.
        refusesNull("mf_node_failure_message", "out", mf_node_failure_message(nil, &size, "f", 1, "m", 1, nil, 0))
        refusesNull("mf_node_failure_message", "function", mf_node_failure_message(&text, &size, nil, 1, "m", 1, nil, 0))
        refusesNull("mf_node_failure_message", "message", mf_node_failure_message(&text, &size, "f", 1, nil, 1, nil, 0))
        acceptsNull("mf_node_failure_message", "details", mf_node_failure_message(&text, &size, "f", 1, "m", 1, nil, 0) == MF_OK
                    && take(text) == "Node f failed: m")
        acceptsNull("mf_node_failure_message", "out_length", mf_node_failure_message(&text, nil, "f", 1, "m", 1, "d", 1) == MF_OK
                    && take(text) == "Node f failed: m\nd")
        refusesNull("mf_node_error_record", "out", mf_node_error_record(nil, &size, "m", 1, "t", 1, "[]", 2))
        refusesNull("mf_node_error_record", "message", mf_node_error_record(&text, &size, nil, 1, "t", 1, "[]", 2))
        refusesNull("mf_node_error_record", "traceback", mf_node_error_record(&text, &size, "m", 1, nil, 1, "[]", 2))
        refusesNull("mf_node_error_record", "files_json", mf_node_error_record(&text, &size, "m", 1, "t", 1, nil, 2))
        acceptsNull("mf_node_error_record", "out_length", mf_node_error_record(&text, nil, "m", 1, "t", 1, "[]", 2) == MF_OK
                    && take(text)?.hasPrefix("{\n  \"error_message\": \"m\",") == true)

        let missing = Self.pointerParameters.subtracting(covered)
        XCTAssertTrue(missing.isEmpty, "pointer parameters without a NULL case: \(missing.map { "\($0.function)(\($0.name))" }.sorted())")
    }

    // MARK: Invalid UTF-8

    func testInvalidUTF8ThroughEveryFunctionThatTakesText() {
        let handles = handles()
        let (storage, registry, pipeline, plan) = (handles.storage, handles.registry, handles.pipeline, handles.plan)
        defer { handles.free() }
        var text: UnsafeMutablePointer<CChar>?
        var handle: OpaquePointer?
        var size = 0
        var flag: Int32 = 0
        var digest = [CChar](repeating: 0, count: 64)
        let stringBad = "invalid UTF-8"  // the JSON reader names the byte and its offset

        // Values (JSON text): in a string, and as raw bytes outside any string.
        for template in [#"{"task": "@"}"#, #"{"@": 1}"#] {
            refusesBadUTF8("mf_json_canonical", "data", in: template, mentions: stringBad, surrogate: MF_OK) {
                mf_json_canonical(&text, &size, MF_FORMAT_JSON, $0, $1)
            }
            refusesBadUTF8("mf_compute_prefix", "data", in: template, mentions: stringBad, surrogate: MF_OK) {
                mf_compute_prefix(&text, MF_FORMAT_JSON, $0, $1, "b", nil)
            }
            refusesBadUTF8("mf_content_digest", "data", in: template, mentions: stringBad, surrogate: MF_OK) {
                mf_content_digest(&digest, MF_FORMAT_JSON, $0, $1)
            }
        }
        refusesBadUTF8("mf_json_canonical", "data", in: "[1, @]", mentions: "Invalid JSON at byte 4") {
            mf_json_canonical(&text, &size, MF_FORMAT_JSON, $0, $1)
        }
        refusesBadUTF8("mf_compute_prefixes", "data", in: #"[{"task": "@"}]"#, mentions: stringBad, surrogate: MF_OK) {
            mf_compute_prefixes(&text, MF_FORMAT_JSON, $0, $1, "b", nil)
        }
        refusesBadUTF8("mf_content_digests", "data", in: #"[{"task": "@"}]"#, mentions: stringBad, surrogate: MF_OK) {
            mf_content_digests(&digest, 64, &size, MF_FORMAT_JSON, $0, $1)
        }
        let hashDict = Array(#"{"task": "t"}"#.utf8)
        hashDict.withUnsafeBytes { d in
            refusesBadUTF8("mf_compute_prefix", "base_prefix", mentions: "base_prefix is not valid UTF-8") { bad, _ in
                mf_compute_prefix(&text, MF_FORMAT_JSON, d.baseAddress, d.count, bad, nil)
            }
            refusesBadUTF8("mf_compute_prefix", "identity_keys_json", in: #"["@"]"#, mentions: stringBad, surrogate: MF_OK) { bad, _ in
                mf_compute_prefix(&text, MF_FORMAT_JSON, d.baseAddress, d.count, "b", bad)
            }
        }
        let hashDicts = Array(#"[{"task": "t"}]"#.utf8)
        hashDicts.withUnsafeBytes { d in
            refusesBadUTF8("mf_compute_prefixes", "base_prefix", mentions: "base_prefix is not valid UTF-8") { bad, _ in
                mf_compute_prefixes(&text, MF_FORMAT_JSON, d.baseAddress, d.count, bad, nil)
            }
            refusesBadUTF8("mf_compute_prefixes", "identity_keys_json", in: #"["@"]"#, mentions: stringBad, surrogate: MF_OK) { bad, _ in
                mf_compute_prefixes(&text, MF_FORMAT_JSON, d.baseAddress, d.count, "b", bad)
            }
        }
        // A pickle holds text as UTF-8 with lone surrogates allowed, as Python writes it.
        func pickledString(_ utf8: [UInt8]) -> [UInt8] {
            let n = UInt32(utf8.count)
            return [0x80, 0x02, UInt8(ascii: "X"), UInt8(n & 0xff), UInt8(n >> 8 & 0xff), UInt8(n >> 16 & 0xff), UInt8(n >> 24)]
                + utf8 + [UInt8(ascii: ".")]
        }
        for (_, bad) in Self.badUTF8 where bad != [0xed, 0xa0, 0x80] {
            let status = bytes(pickledString(bad)) { mf_json_canonical(&text, &size, MF_FORMAT_PICKLE, $0, $1) }
            check("mf_json_canonical", "data", status, MF_ERR_INVALID_ARGUMENT, mentions: "UTF-8")
        }
        XCTAssertEqual(bytes(pickledString([0xed, 0xa0, 0x80])) { mf_json_canonical(&text, &size, MF_FORMAT_PICKLE, $0, $1) }, MF_OK)
        XCTAssertEqual(take(text), #""\ud800""#)

        // Storage
        for function in ["mf_filename_validate", "mf_storage_save", "mf_storage_begin_write", "mf_storage_end_write",
                         "mf_storage_read_path", "mf_storage_exists"] {
            refusesBadUTF8(function, "name", mentions: "name is not valid UTF-8") { bad, _ in
                switch function {
                case "mf_filename_validate": return mf_filename_validate(bad)
                case "mf_storage_save": return mf_storage_save(storage, bad, "x", 1, 0)
                case "mf_storage_begin_write": return mf_storage_begin_write(&text, storage, bad)
                case "mf_storage_end_write": return mf_storage_end_write(storage, bad, 1)
                case "mf_storage_read_path": return mf_storage_read_path(&text, storage, bad)
                default: return mf_storage_exists(&flag, storage, bad)
                }
            }
        }
        refusesBadUTF8("mf_storage_new", "path", in: directory + "/@", mentions: "path is not valid UTF-8") { bad, _ in
            mf_storage_new(&handle, bad, 0, nil)
        }
        refusesBadUTF8("mf_storage_new", "allowed_outputs_json", in: #"["@"]"#, mentions: stringBad, surrogate: MF_OK) { bad, _ in
            defer { mf_storage_free(handle); handle = nil }
            return mf_storage_new(&handle, directory + "/r", UInt32(MF_STORAGE_RESTRICT_OUTPUTS), bad)
        }
        refusesBadUTF8("mf_storage_new_in", "base", in: directory + "/@", mentions: "base is not valid UTF-8") { bad, _ in
            mf_storage_new_in(&handle, bad, "p", 0, nil)
        }
        refusesBadUTF8("mf_storage_new_in", "prefix", in: "p/@", mentions: "prefix is not valid UTF-8") { bad, _ in
            mf_storage_new_in(&handle, directory, bad, 0, nil)
        }
        refusesBadUTF8("mf_storage_new_in", "allowed_outputs_json", in: #"["@"]"#, mentions: stringBad, surrogate: MF_OK) { bad, _ in
            defer { mf_storage_free(handle); handle = nil }
            return mf_storage_new_in(&handle, directory, "p", UInt32(MF_STORAGE_RESTRICT_OUTPUTS), bad)
        }
        XCTAssertNil(handle)
        refusesBadUTF8("mf_storage_check_manifests", "prefixes_json", in: #"["@"]"#, mentions: stringBad, surrogate: MF_OK) { bad, _ in
            mf_storage_check_manifests(&text, bad, MF_CACHE_CHECK_SIZES)
        }
        // File contents are bytes, not text: anything is written as it is.
        XCTAssertEqual(bytes([0xff, 0xfe, 0xed, 0xa0, 0x80]) { mf_storage_save(storage, "binary", $0, $1, 0) }, MF_OK)

        // Remote storage: the ledger
        refusesBadUTF8("mf_ledger_new", "allowed_outputs_json", in: #"["@"]"#, mentions: stringBad, surrogate: MF_OK) { bad, _ in
            defer { mf_ledger_free(handle); handle = nil }
            return mf_ledger_new(&handle, UInt32(MF_STORAGE_RESTRICT_OUTPUTS), bad)
        }
        var ledger: OpaquePointer?
        XCTAssertEqual(mf_ledger_new(&ledger, 0, nil), MF_OK)
        for function in ["mf_ledger_claim", "mf_ledger_commit", "mf_ledger_release"] {
            refusesBadUTF8(function, "name", mentions: "name is not valid UTF-8") { bad, _ in
                switch function {
                case "mf_ledger_claim": return mf_ledger_claim(ledger, bad, 0)
                case "mf_ledger_commit": return mf_ledger_commit(ledger, bad, "x", 1)
                default: return mf_ledger_release(ledger, bad)
                }
            }
        }
        refusesBadUTF8("mf_ledger_manifest", "inputs_json", in: #"{"@": {"prefix": "p", "outputs_sha256": null}}"#,
                       mentions: stringBad, surrogate: MF_OK) { bad, _ in
            defer { mf_string_free(text); text = nil }
            return mf_ledger_manifest(&text, nil, ledger, bad)
        }
        mf_ledger_free(ledger)
        var state: Int32 = -1
        refusesBadUTF8("mf_node_cache_state", "inputs_json", in: #"{"@": {"prefix": "p", "outputs_sha256": null}}"#,
                       mentions: stringBad, surrogate: MF_OK) { bad, _ in
            mf_node_cache_state(&state, nil, 0, bad)
        }
        refusesBadUTF8("mf_plan_cache_states", "manifests_json", in: #"{"@": null}"#, mentions: stringBad,
                       surrogate: MF_OK) { bad, _ in
            defer { mf_string_free(text); text = nil }
            return mf_plan_cache_states(&text, plan, bad)
        }
        let withInputs = self.storage("with-inputs")
        refusesBadUTF8("mf_storage_write_manifest_inputs", "inputs_json",
                       in: #"{"@": {"prefix": "p", "outputs_sha256": null}}"#, mentions: stringBad, surrogate: MF_OK) { bad, _ in
            mf_storage_write_manifest_inputs(withInputs, bad)
        }
        mf_storage_free(withInputs)

        // Registry and pipelines
        refusesBadUTF8("mf_registry_add", "descriptor_json", in: #"{"name": "@"}"#, mentions: stringBad, surrogate: MF_OK) { bad, _ in
            mf_registry_add(registry, bad)
        }
        refusesBadUTF8("mf_registry_remove", "name", mentions: "name is not valid UTF-8") { bad, _ in mf_registry_remove(registry, bad) }
        refusesBadUTF8("mf_registry_get", "name", mentions: "name is not valid UTF-8") { bad, _ in mf_registry_get(&text, registry, bad) }
        refusesBadUTF8("mf_registry_set_function", "name", mentions: "name is not valid UTF-8") { bad, _ in
            mf_registry_set_function(registry, bad, Self.recordingTask, nil, nil)
        }
        refusesBadUTF8("mf_pipeline_new", "name", mentions: "name is not valid UTF-8") { bad, _ in mf_pipeline_new(&handle, bad, nil) }
        refusesBadUTF8("mf_pipeline_new", "display_name", mentions: "display_name is not valid UTF-8") { bad, _ in
            mf_pipeline_new(&handle, "p", bad)
        }
        XCTAssertNil(handle)
        refusesBadUTF8("mf_pipeline_add_step", "name", mentions: "name is not valid UTF-8") { bad, _ in
            mf_pipeline_add_step(pipeline, bad, "h.t", MF_STEP_SINGLE, nil)
        }
        refusesBadUTF8("mf_pipeline_add_step", "task", mentions: "task is not valid UTF-8") { bad, _ in
            mf_pipeline_add_step(pipeline, "s2", bad, MF_STEP_SINGLE, nil)
        }
        refusesBadUTF8("mf_pipeline_add_step", "after_json", in: #"["@"]"#, mentions: stringBad, surrogate: MF_OK) { bad, _ in
            let fresh = self.pipeline(steps: [])
            defer { mf_pipeline_free(fresh) }
            return mf_pipeline_add_step(fresh, "s2", "h.t", MF_STEP_SINGLE, bad)
        }
        refusesBadUTF8("mf_pipeline_set_step_jobs", "step_name", mentions: "step_name is not valid UTF-8") { bad, _ in
            mf_pipeline_set_step_jobs(pipeline, bad, MF_FORMAT_JSON, "{}", 2)
        }
        refusesBadUTF8("mf_pipeline_set_step_jobs", "data", in: #"{"x": "@"}"#, mentions: stringBad, surrogate: MF_OK) {
            mf_pipeline_set_step_jobs(pipeline, "s", MF_FORMAT_JSON, $0, $1)
        }
        refusesBadUTF8("mf_pipeline_build", "subject_key", mentions: "subject_key is not valid UTF-8") { bad, _ in
            mf_pipeline_build(&handle, pipeline, registry, bad, MF_FORMAT_JSON, nil, 0, "b", 0, nil, nil)
        }
        refusesBadUTF8("mf_pipeline_build", "kwargs", in: #"{"x": "@"}"#, mentions: stringBad, surrogate: MF_OK) {
            defer { mf_plan_free(handle); handle = nil }
            return mf_pipeline_build(&handle, pipeline, registry, "k", MF_FORMAT_JSON, $0, $1, "b", 0, nil, nil)
        }
        refusesBadUTF8("mf_pipeline_build", "base_prefix", mentions: "base_prefix is not valid UTF-8") { bad, _ in
            mf_pipeline_build(&handle, pipeline, registry, "k", MF_FORMAT_JSON, nil, 0, bad, 0, nil, nil)
        }
        XCTAssertNil(handle)

        // Plans
        refusesBadUTF8("mf_plan_from_json", "json", in: #"{"nodes": {}, "root_key": "@"}"#, mentions: stringBad,
                       surrogate: MF_ERR_INVALID_ARGUMENT) {
            mf_plan_from_json(&handle, $0, $1)
        }
        // A key is matched as the bytes it is (keys may hold lone surrogates from Python):
        // invalid UTF-8 names no node.
        refusesBadUTF8("mf_plan_node_index", "key", expect: MF_ERR_NOT_FOUND, mentions: "no node") { bad, _ in
            mf_plan_node_index(&size, plan, bad)
        }
        refusesBadUTF8("mf_plan_ready_nodes", "completed_json", in: #"["@"]"#, mentions: stringBad, surrogate: MF_OK) { bad, _ in
            mf_plan_ready_nodes(&text, plan, bad)
        }
        var tracker: OpaquePointer?
        XCTAssertEqual(mf_ready_tracker_new(&tracker, plan), MF_OK)
        var ready: UnsafePointer<Int>?
        var readyCount = 0
        refusesBadUTF8("mf_ready_tracker_update", "added_json", in: #"["@"]"#, mentions: stringBad, surrogate: MF_OK) { bad, _ in
            mf_ready_tracker_update(&ready, &readyCount, tracker, bad, nil)
        }
        refusesBadUTF8("mf_ready_tracker_update", "removed_json", in: #"["@"]"#, mentions: stringBad, surrogate: MF_OK) { bad, _ in
            mf_ready_tracker_update(&ready, &readyCount, tracker, nil, bad)
        }
        mf_ready_tracker_free(tracker)
        refusesBadUTF8("mf_filename_check_write", "name", mentions: "name is not valid UTF-8") { bad, _ in
            mf_filename_check_write(bad, 0, 0)
        }
        refusesBadUTF8("mf_plan_is_complete", "completed_json", in: #"["@"]"#, mentions: stringBad, surrogate: MF_OK) { bad, _ in
            mf_plan_is_complete(&flag, plan, bad)
        }

        // Step Functions: an ARN with a lone surrogate is written with U+FFFD in its place.
        refusesBadUTF8("mf_plan_state_machine", "options_json", in: #"{"function_arn": "@", "bucket": "b", "plan_key": "k"}"#,
                       mentions: stringBad, surrogate: MF_OK) { bad, _ in
            defer { mf_string_free(text); text = nil }
            return mf_plan_state_machine(&text, &size, plan, bad)
        }
        refusesBadUTF8("mf_state_machine_name", "prefix", mentions: "prefix is not valid UTF-8") { bad, _ in
            mf_state_machine_name(&text, bad, "k")
        }
        refusesBadUTF8("mf_state_machine_name", "root_key", mentions: "root_key is not valid UTF-8") { bad, _ in
            mf_state_machine_name(&text, "p", bad)
        }

        // Runs: messages are recorded with each malformed sequence replaced by U+FFFD.
        for parameter in ["error_message", "error_traceback"] {
            var run: OpaquePointer?
            XCTAssertEqual(mf_run_new(&run, plan, registry, MF_FAILURE_STOP, 0), MF_OK)
            var kind = MF_EVENT_DONE
            XCTAssertEqual(mf_run_next(&kind, &size, run), MF_OK)
            XCTAssertEqual(kind, MF_EVENT_RUN)
            var prefix: UnsafeMutablePointer<CChar>?
            XCTAssertEqual(mf_plan_node_field(&prefix, nil, plan, size, MF_NODE_STORAGE_PREFIX), MF_OK)
            let errorPath = take(prefix)! + "/error.json"
            let bad: [UInt8] = Array("bad ".utf8) + [0xff, 0xfe, 0xed, 0xa0, 0x80, 0xc3]
            let status = cString(bad) {
                parameter == "error_message" ? mf_run_finish_node(run, size, 0, $0, "tb") : mf_run_finish_node(run, size, 0, "m", $0)
            }
            covered.insert(Parameter(function: "mf_run_finish_node", name: parameter))
            XCTAssertEqual(status, MF_OK)
            let written = try? Data(contentsOf: URL(fileURLWithPath: errorPath))
            let object = written.flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
            let field = parameter == "error_message" ? "error_message" : "error_traceback"
            XCTAssertEqual(object?[field] as? String, "bad \u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}", "\(errorPath)")
            mf_run_free(run)
            removeTree(directory + "/muflow")
        }
        let calls = Calls()
        calls.failWith = Array("no ".utf8) + [0xff, 0x61]
        XCTAssertEqual(mf_registry_set_function(registry, "h.t", Self.recordingTask, calls.opaque, nil), MF_OK)
        var run: OpaquePointer?
        XCTAssertEqual(mf_run_new(&run, plan, registry, MF_FAILURE_STOP, 0), MF_OK)
        XCTAssertEqual(mf_run_execute(run, registry, 1), MF_ERR_TASK_FAILED)
        covered.insert(Parameter(function: "mf_task_fail", name: "message"))
        XCTAssertTrue(message().contains("no \u{FFFD}a"), message())
        mf_run_free(run)

        // Failed-node reports: lone surrogates pass, as Python's str holds them.
        for parameter in ["function", "message", "details"] {
            refusesBadUTF8("mf_node_failure_message", parameter, mentions: "\(parameter) is not valid UTF-8",
                           surrogate: MF_OK) { bad, n in
                defer { mf_string_free(text); text = nil }
                switch parameter {
                case "function": return mf_node_failure_message(&text, &size, bad, n, "m", 1, nil, 0)
                case "message": return mf_node_failure_message(&text, &size, "f", 1, bad, n, nil, 0)
                default: return mf_node_failure_message(&text, &size, "f", 1, "m", 1, bad, n)
                }
            }
        }
        for parameter in ["message", "traceback"] {
            refusesBadUTF8("mf_node_error_record", parameter, mentions: "\(parameter) is not valid UTF-8",
                           surrogate: MF_OK) { bad, n in
                defer { mf_string_free(text); text = nil }
                return parameter == "message" ? mf_node_error_record(&text, &size, bad, n, "t", 1, "[]", 2)
                    : mf_node_error_record(&text, &size, "m", 1, bad, n, "[]", 2)
            }
        }
        refusesBadUTF8("mf_node_error_record", "files_json", in: #"["@"]"#, mentions: stringBad, surrogate: MF_OK) { bad, n in
            defer { mf_string_free(text); text = nil }
            return mf_node_error_record(&text, &size, "m", 1, "t", 1, bad, n)
        }

        let missing = Self.textParameters.subtracting(covered)
        XCTAssertTrue(missing.isEmpty, "text parameters without an invalid UTF-8 case: \(missing.map { "\($0.function)(\($0.name))" }.sorted())")
    }

    // MARK: Depth and size

    func testNesting100000DeepIsALimitErrorEverywhere() {
        let n = 100_000
        let deep = Array(String(repeating: "[", count: n).utf8) + Array(String(repeating: "]", count: n).utf8)
        let deepObject = Array(String(repeating: #"{"a":"#, count: n).utf8) + [UInt8(ascii: "1")]
            + Array(String(repeating: "}", count: n).utf8)
        let deepPickle: [UInt8] = [0x80, 0x02] + [UInt8](repeating: UInt8(ascii: "]"), count: n)
            + [UInt8](repeating: UInt8(ascii: "a"), count: n - 1) + [UInt8(ascii: ".")]
        let registry = registry()
        let pipeline = pipeline()
        let plan = plan(registry)
        defer { mf_plan_free(plan); mf_pipeline_free(pipeline); mf_registry_free(registry) }
        var text: UnsafeMutablePointer<CChar>?
        var handle: OpaquePointer?
        var size = 0
        var flag: Int32 = 0
        var digest = [CChar](repeating: 0, count: 64)
        let limit = "deeper than 1000"
        for value in [deep, deepObject] {
            bytes(value) { d, count in
                check("mf_json_canonical", "data", mf_json_canonical(&text, &size, MF_FORMAT_JSON, d, count), MF_ERR_LIMIT, mentions: limit)
                check("mf_content_digest", "data", mf_content_digest(&digest, MF_FORMAT_JSON, d, count), MF_ERR_LIMIT, mentions: limit)
                check("mf_plan_from_json", "json", mf_plan_from_json(&handle, d, count), MF_ERR_LIMIT, mentions: limit)
                check("mf_pipeline_build", "kwargs",
                      mf_pipeline_build(&handle, pipeline, registry, "k", MF_FORMAT_JSON, d, count, "b", 0, nil, nil),
                      MF_ERR_LIMIT, mentions: limit)
                check("mf_pipeline_set_step_jobs", "data", mf_pipeline_set_step_jobs(pipeline, "s", MF_FORMAT_JSON, d, count),
                      MF_ERR_LIMIT, mentions: limit)
            }
            cString(value) { c in
                check("mf_registry_add", "descriptor_json", mf_registry_add(registry, c), MF_ERR_LIMIT, mentions: limit)
                check("mf_plan_is_complete", "completed_json", mf_plan_is_complete(&flag, plan, c), MF_ERR_LIMIT, mentions: limit)
                check("mf_plan_ready_nodes", "completed_json", mf_plan_ready_nodes(&text, plan, c), MF_ERR_LIMIT, mentions: limit)
                check("mf_storage_check_manifests", "prefixes_json", mf_storage_check_manifests(&text, c, MF_CACHE_CHECK_SIZES),
                      MF_ERR_LIMIT, mentions: limit)
                check("mf_pipeline_add_step", "after_json", mf_pipeline_add_step(pipeline, "s2", "h.t", MF_STEP_SINGLE, c),
                      MF_ERR_LIMIT, mentions: limit)
            }
        }
        let wrapped = Array(#"{"task": "t", "v": "#.utf8) + deep + [UInt8(ascii: "}")]
        bytes(wrapped) { d, count in
            check("mf_compute_prefix", "data", mf_compute_prefix(&text, MF_FORMAT_JSON, d, count, "b", nil), MF_ERR_LIMIT, mentions: limit)
        }
        bytes(deepPickle) { d, count in
            check("mf_json_canonical", "data", mf_json_canonical(&text, &size, MF_FORMAT_PICKLE, d, count), MF_ERR_LIMIT, mentions: limit)
            check("mf_content_digests", "data", mf_content_digests(&digest, 64, &size, MF_FORMAT_PICKLE, d, count),
                  MF_ERR_LIMIT, mentions: limit)
        }
        XCTAssertNil(handle)
    }

    private func residentBytes() -> Int {
        let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? ""
        let pages = statm.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// A 1 GiB + 1 input (an untouched anonymous mapping, so reading it would show in
    /// the resident size) is refused as over MF_MAX_VALUE_BYTES before it is read.
    func testValuesOverTheSizeLimitAreRefusedUnread() throws {
        let length = (1 << 30) + 1
        let mapping = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let mapping, mapping != UnsafeMutableRawPointer(bitPattern: -1) else { throw XCTSkip("cannot map 1 GiB") }
        defer { munmap(mapping, length) }
        let data = UnsafeRawPointer(mapping)
        let registry = registry()
        let pipeline = pipeline()
        defer { mf_pipeline_free(pipeline); mf_registry_free(registry) }
        var text: UnsafeMutablePointer<CChar>?
        var handle: OpaquePointer?
        var size = 0
        var digest = [CChar](repeating: 0, count: 64)
        let before = residentBytes()
        let named = "is \(length) bytes encoded, over the limit of 268435456 bytes"
        for format in [MF_FORMAT_JSON, MF_FORMAT_PICKLE] {
            check("mf_json_canonical", "data", mf_json_canonical(&text, &size, format, data, length), MF_ERR_LIMIT, mentions: named)
            check("mf_compute_prefix", "data", mf_compute_prefix(&text, format, data, length, "b", nil), MF_ERR_LIMIT, mentions: named)
            check("mf_compute_prefixes", "data", mf_compute_prefixes(&text, format, data, length, "b", nil), MF_ERR_LIMIT, mentions: named)
            check("mf_content_digest", "data", mf_content_digest(&digest, format, data, length), MF_ERR_LIMIT, mentions: named)
            check("mf_content_digests", "data", mf_content_digests(&digest, 64, &size, format, data, length), MF_ERR_LIMIT, mentions: named)
            check("mf_pipeline_set_step_jobs", "data", mf_pipeline_set_step_jobs(pipeline, "s", format, data, length),
                  MF_ERR_LIMIT, mentions: named)
            check("mf_pipeline_build", "kwargs",
                  mf_pipeline_build(&handle, pipeline, registry, "k", format, data, length, "b", 0, nil, nil),
                  MF_ERR_LIMIT, mentions: named)
        }
        let grown = residentBytes() - before
        XCTAssertLessThan(grown, 64 << 20, "resident size grew by \(grown >> 20) MiB")
        XCTAssertNil(handle)
        // The limit itself is the last accepted size: at MF_MAX_VALUE_BYTES the input is read
        // (and found malformed at its first byte).
        XCTAssertEqual(mf_json_canonical(&text, &size, MF_FORMAT_JSON, data, Int(MF_MAX_VALUE_BYTES)), MF_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(mf_json_canonical(&text, &size, MF_FORMAT_JSON, data, Int(MF_MAX_VALUE_BYTES) + 1), MF_ERR_LIMIT)
    }

    // MARK: Names, prefixes and dependency keys

    func testTaskNamesThatWouldLeaveTheBaseAreRefused() {
        let registry = registry()
        defer { mf_registry_free(registry) }
        for name in ["../x", "/x", "", "..", ".", "a/..", "a/../../x", #"t\u0000"#] {
            XCTAssertEqual(mf_registry_add(registry, #"{"name": "\#(name)"}"#), MF_ERR_INVALID_ARGUMENT, name)
            XCTAssertTrue(message().hasPrefix("task name"), message())
            guard !name.contains("\\") else { continue }  // a C string cannot hold the NUL
            let pipeline = pipeline(steps: [("ok", "h.t", nil), ("bad", name, nil)])
            defer { mf_pipeline_free(pipeline) }
            var text: UnsafeMutablePointer<CChar>?
            XCTAssertEqual(mf_pipeline_validate(&text, pipeline), MF_ERR_INVALID_ARGUMENT, name)
            XCTAssertTrue(message().contains("of step 'bad'"), message())
            XCTAssertEqual(build(pipeline, registry).0, MF_ERR_INVALID_ARGUMENT)
        }
        for name in ["pkg.module.task", "a..b", "..pkg", "group/task"] {
            XCTAssertEqual(mf_registry_add(registry, #"{"name": "\#(name)"}"#), MF_OK, message())
        }
    }

    func testTaskKwargLabelsThatClimbOutAreRefused() {
        let registry = registry()
        let pipeline = pipeline()
        defer { mf_pipeline_free(pipeline); mf_registry_free(registry) }
        for label in ["..", "../x", "a/../../x"] {
            let (status, plan) = build(pipeline, registry, kwargs: #"{"task": "\#(label)"}"#, base: "out")
            XCTAssertEqual(status, MF_ERR_INVALID_ARGUMENT)
            XCTAssertNil(plan)
            XCTAssertTrue(message().hasPrefix("the label '\(label)' of a node of task 'h.t' has a '..' path component: its storage prefix 'out/\(label)/"),
                          message())
        }
        for label in ["/x", "x..y"] {
            let (status, plan) = build(pipeline, registry, kwargs: #"{"task": "\#(label)"}"#, base: "out")
            XCTAssertEqual(status, MF_OK, message())
            XCTAssertTrue(String(cString: mf_plan_root_key(plan)).hasPrefix("out/\(label)/"))
            mf_plan_free(plan)
        }
    }

    func testStorageRefusesPrefixesOutsideItsBase() {
        let base = directory + "/base"
        let cases: [(String, String)] = [
            ("", "storage prefix must not be empty"),
            ("/x/t/0123", "is absolute"),
            ("../x/t/0123", "has a '..' path component"),
            ("..", "has a '..' path component"),
            ("muflow/../../x", "has a '..' path component"),
        ]
        for (prefix, problem) in cases {
            var storage: OpaquePointer?
            XCTAssertEqual(mf_storage_new_in(&storage, base, prefix, 0, nil), MF_ERR_INVALID_ARGUMENT, prefix)
            XCTAssertNil(storage)
            XCTAssertTrue(message().contains(problem), message())
        }
        XCTAssertEqual(access(base, F_OK), -1, "nothing was created")
        var storage: OpaquePointer?
        XCTAssertEqual(mf_storage_new_in(&storage, base, "muflow/pkg.task/0123", UInt32(MF_STORAGE_RESTRICT_OUTPUTS),
                                         #"["a.txt"]"#), MF_OK, message())
        XCTAssertEqual(String(cString: mf_storage_path(storage)), base + "/muflow/pkg.task/0123")
        XCTAssertEqual(mf_storage_save(storage, "b.txt", "x", 1, 0), MF_ERR_PERMISSION)
        XCTAssertEqual(mf_storage_save(storage, "a.txt", "x", 1, 0), MF_OK)
        mf_storage_free(storage)
    }

    /// A stored plan whose access map has keys like paths: a C task sees them as JSON
    /// keys (NUL escaped), each naming the directory it maps to, and file names it reads
    /// through them are still checked.
    func testDependencyKeysThatLookLikePathsAreOnlyKeys() {
        let registry = registry(["h.a", "h.b"])
        let pipeline = pipeline(steps: [("a", "h.a", nil), ("b", "h.b", #"["a"]"#)])
        let (status, built) = build(pipeline, registry)
        XCTAssertEqual(status, MF_OK, message())
        var json: UnsafeMutablePointer<CChar>?
        XCTAssertEqual(mf_plan_to_json(&json, nil, built), MF_OK)
        var prefix: UnsafeMutablePointer<CChar>?
        XCTAssertEqual(mf_plan_node_field(&prefix, nil, built, 0, MF_NODE_STORAGE_PREFIX), MF_OK)
        let a = take(prefix)!
        let original = #""dependency_access_map":{"a":"\#(a)"}"#
        let hostile = #""dependency_access_map":{"..":"\#(a)","/etc/passwd":"\#(a)","a\u0000b":"\#(a)","a":"\#(a)"}"#
        let document = take(json)!.replacingOccurrences(of: original, with: hostile)
        XCTAssertTrue(document.contains(hostile))
        var plan: OpaquePointer?
        XCTAssertEqual(mf_plan_from_json(&plan, document, document.utf8.count), MF_OK, message())
        let calls = Calls()
        for name in ["h.a", "h.b"] { XCTAssertEqual(mf_registry_set_function(registry, name, Self.recordingTask, calls.opaque, nil), MF_OK) }
        var run: OpaquePointer?
        XCTAssertEqual(mf_run_new(&run, plan, registry, MF_FAILURE_STOP, 0), MF_OK)
        XCTAssertEqual(mf_run_execute(run, registry, 1), MF_OK, message())
        XCTAssertEqual(calls.dependencies, ["{}", #"{"..":"\#(a)","/etc/passwd":"\#(a)","a\u0000b":"\#(a)","a":"\#(a)"}"#])
        XCTAssertEqual(calls.dependencyReads, [MF_OK, MF_ERR_INVALID_ARGUMENT, MF_ERR_INVALID_ARGUMENT, MF_ERR_INVALID_ARGUMENT])
        mf_run_free(run)
        mf_plan_free(plan)
        mf_plan_free(built)
        mf_pipeline_free(pipeline)
        mf_registry_free(registry)
    }
}
