import Glibc

/// A new, empty directory `root/muflow-<name>-XXXXXX` (mkdtemp), for one test.
public func makeTemporaryDirectory(_ name: String, under root: String = "/tmp") -> String {
    var template = Array("\(root)/muflow-\(name)-XXXXXX".utf8CString)
    return template.withUnsafeMutableBufferPointer { template in
        guard let made = mkdtemp(template.baseAddress!) else {
            fatalError("mkdtemp under \(root) failed: \(String(cString: strerror(errno)))")
        }
        return String(cString: made)
    }
}

/// Removes `path` and everything under it.
public func removeTree(_ path: String) {
    _ = system("rm -rf '\(path)'")
}
