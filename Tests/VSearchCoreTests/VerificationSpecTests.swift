import Foundation
import Testing

@testable import VSearchCore

/// `descriptor.verify` in `model.json`: its defaults, its checks, and the arithmetic every backend shares.
@Suite struct VerificationSpecTests {
    @Test func aVerifySectionRoundTripsAndMissingKeysTakeRound4sValues() throws {
        let spec = try JSONDecoder().decode(VerificationSpec.self, from: Data(#"{"candidates": 30}"#.utf8))
        #expect(spec == VerificationSpec(candidates: 30))
        #expect(spec.keypoints == 500 && spec.longestSide == 480 && spec.gate == 0.6)
        let full = VerificationSpec(
            keypoints: 1_500, longestSide: 640, candidates: 10, weightPerMatch: 0.01, matchCap: 50)
        let again = try JSONDecoder().decode(VerificationSpec.self, from: JSONEncoder().encode(full))
        #expect(again == full)
    }

    @Test func theModelsDescriptorCarriesItAndChecksIt() throws {
        let json = """
            {"map": "head", "pooling": "gem", "power": 3, "item": {"longSide": 160, "shortSide": 160},
             "query": {"longSide": 480, "shortSide": 360}, "regions": [3, 5], "overlap": 0.5,
             "plainWeight": 0.4, "verify": {"keypoints": 500, "candidates": 0}}
            """
        let descriptor = try JSONDecoder().decode(DescriptorSpec.self, from: Data(json.utf8))
        #expect(descriptor.verify?.keypoints == 500)
        #expect(descriptor.problem == "descriptor.verify.candidates must be from 1 to 1000")
        var fine = descriptor
        fine.verify?.candidates = 20
        #expect(fine.problem == nil)
        for broken in [
            VerificationSpec(keypoints: 4), VerificationSpec(longestSide: 10), VerificationSpec(weightPerMatch: .nan),
            VerificationSpec(matchCap: 0), VerificationSpec(gate: 2),
        ] {
            #expect(broken.problem != nil)
        }
    }

    /// A screen is optional: absent, nothing is screened and nothing of it is written back.
    @Test func aScreenRoundTripsAndIsChecked() throws {
        let screened = try JSONDecoder().decode(
            VerificationSpec.self, from: Data(#"{"candidates": 10, "screen": {"every": 4, "minimum": 3}}"#.utf8))
        #expect(screened.screen == VerificationSpec.Screen(every: 4, minimum: 3))
        #expect(try JSONDecoder().decode(VerificationSpec.self, from: JSONEncoder().encode(screened)) == screened)
        #expect(screened.problem == nil)
        let plain = try JSONEncoder().encode(VerificationSpec())
        #expect(!String(decoding: plain, as: UTF8.self).contains("screen"))
        #expect(try JSONDecoder().decode(VerificationSpec.self, from: plain).screen == nil)
        for broken in [
            VerificationSpec.Screen(every: 1, minimum: 4), VerificationSpec.Screen(every: 65, minimum: 4),
            VerificationSpec.Screen(every: 4, minimum: 0), VerificationSpec.Screen(every: 4, minimum: 501),
        ] {
            #expect(VerificationSpec(screen: broken).problem?.contains("screen") == true, "\(broken)")
        }
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(VerificationSpec.self, from: Data(#"{"screen": {"every": 4}}"#.utf8))
        }
    }

    @Test func theBonusCountsMatchesUpToTheCap() {
        let spec = VerificationSpec(weightPerMatch: 0.005, matchCap: 100)
        #expect(spec.bonus(matches: 0) == 0)
        #expect(abs(spec.bonus(matches: 40) - 0.2) < 1e-6)
        #expect(abs(spec.bonus(matches: 1_000) - 0.5) < 1e-6)
        #expect(spec.bonus(matches: -3) == 0)
    }

    /// G1: the mean of the two cosines when a second item also has a window above the gate, else the better one.
    @Test func theGateChoosesBetweenMeanAndMaximum() {
        let spec = VerificationSpec(gate: 0.6)
        let plain: [Float] = [0.9, 0.2, 0.1]
        #expect(spec.fused(plain: plain, window: [0.3, 0.5, 0.8]) == [0.9, 0.5, 0.8])
        let means = spec.fused(plain: plain, window: [0.3, 0.7, 0.8])
        for (got, want) in zip(means, [Float(0.6), 0.45, 0.45]) { #expect(abs(got - want) < 1e-6) }
        // One strong window alone is no clutter; nor is an empty list anything.
        #expect(spec.fused(plain: [0.1], window: [0.9]) == [0.9])
        #expect(spec.fused(plain: [], window: []) == [])
    }
}
