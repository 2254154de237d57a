@testable import MuflowCore
@testable import MuflowPickle

func unpickle(_ bytes: [UInt8], maxDepth: Int = 1000) throws -> JSONValue {
    try bytes.withUnsafeBytes { try parsePickle($0, maxDepth: maxDepth) }
}
