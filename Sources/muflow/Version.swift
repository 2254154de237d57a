import CMuflowHeader

@c @implementation
public func mf_version() -> UInt32 {
    UInt32(MF_VERSION_MAJOR * 10000 + MF_VERSION_MINOR * 100 + MF_VERSION_PATCH)
}

@c @implementation
public func mf_version_string() -> UnsafePointer<CChar>! {
    muflow_version_text()
}
