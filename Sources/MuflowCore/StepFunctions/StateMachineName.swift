/// The name of a plan's state machine, as muflow 0.4.0 derives it: `{prefix}-{suffix}`
/// where the suffix is the root key after its last "/", every character AWS does not
/// allow in a name (`[A-Za-z0-9_-]`) replaced by "-", and the whole cut to AWS's 80
/// characters. Resubmitting a plan finds its machine by this name.
public enum StateMachineName {
    public static let maximumLength = 80

    public static func make(prefix: String, rootKey: String) -> String {
        let suffix = rootKey.unicodeScalars.split(separator: "/", omittingEmptySubsequences: false).last ?? []
        var name = String.UnicodeScalarView()
        name.append(contentsOf: prefix.unicodeScalars)
        name.append("-")
        for scalar in suffix {
            name.append(allowed(scalar) ? scalar : "-")
        }
        return String(String.UnicodeScalarView(name.prefix(maximumLength)))
    }

    private static func allowed(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "_", "-": return true
        default: return false
        }
    }
}
