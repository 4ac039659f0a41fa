import Testing

@testable import ImageFetching

/// The content hashes the store keeps and the download cache's file names.
@Suite struct ContentHashTests {
    @Test func sha256MatchesTheStandardVectors() {
        #expect(ContentHash.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(ContentHash.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let long = String(repeating: "a", count: 1000)
        #expect(ContentHash.hex(long) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }
}
