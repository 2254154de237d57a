import CMuflowHeader
import Glibc
import MuflowCore

@c @implementation
public func mf_string_free(_ string: UnsafeMutablePointer<CChar>?) {
    free(string)
}

/// A caller-owned, NUL-terminated copy of `bytes`, released by mf_string_free.
func ownedCString<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> UnsafeMutablePointer<CChar> {
    let buffer = malloc(bytes.count + 1)!.assumingMemoryBound(to: UInt8.self)
    _ = UnsafeMutableBufferPointer(start: buffer, count: bytes.count).initialize(from: bytes)
    buffer[bytes.count] = 0
    return UnsafeMutableRawPointer(buffer).assumingMemoryBound(to: CChar.self)
}

/// Hands `bytes` to the caller through `out` (and its length through `outLength`).
func deliver(_ bytes: [UInt8], to out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>,
             length outLength: UnsafeMutablePointer<Int>? = nil) {
    out.pointee = ownedCString(bytes)
    outLength?.pointee = bytes.count
}

/// A borrowed NUL-terminated argument as WTF-8 bytes; must be valid UTF-8.
func utf8Argument(_ pointer: UnsafePointer<CChar>?, _ name: StaticString) throws -> JSONString {
    let p = try required(pointer, name)
    let bytes = Array(UnsafeRawBufferPointer(start: p, count: strlen(p)))
    guard String(validating: bytes, as: UTF8.self) != nil else {
        throw invalidArgument("\(name) is not valid UTF-8")
    }
    return JSONString(wtf8: bytes)
}
