/// A small seeded random number generator (SplitMix64), so that an evaluation
/// run draws the same query distortions on every machine and every run, and a
/// test's random data is the same on every run.
///
/// The system generator cannot be seeded; this one is a few lines, fast, and
/// good enough for picking distortion parameters and test data.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator whose whole sequence follows from `seed`.
    public init(seed: UInt64) {
        state = seed
    }

    /// A generator for one stream out of many (e.g. one catalogue item), derived from a run seed, so that
    /// adding an item does not change the queries drawn for the others.
    public init(seed: UInt64, stream: UInt64) {
        var mixer = SeededGenerator(seed: seed ^ (stream &* 0xD1B5_4A32_D192_ED03))
        state = mixer.next()
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
