/// A small seeded pseudo-random generator (SplitMix64), so property tests are repeatable.
public struct SplitMix64: RandomNumberGenerator {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A string of 0 to `maxLength` characters (Unicode scalars) drawn from `alphabet`.
    public mutating func string(from alphabet: String, maxLength: Int) -> String {
        let scalars = Array(alphabet.unicodeScalars)
        var text = String.UnicodeScalarView()
        for _ in 0..<Int.random(in: 0...maxLength, using: &self) {
            text.append(scalars.randomElement(using: &self)!)
        }
        return String(text)
    }
}
