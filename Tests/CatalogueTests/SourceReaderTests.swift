import Foundation
import Testing
import VSearchTesting

@testable import Catalogue

@Suite struct SourceReaderTests {
    @Test func seedTextKeepsCommasInTitlesAndNumbersLinesFromZero() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/sample-data.txt"
        try """
        Bedtime Originals Plush Monkey Ollie, https://example.com/a.jpg
        Ty Beanie Boos - Coconut, Monkey, Brown, https://example.com/b%2B.jpg

        no comma here
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let listing = SourceReader.read([path])
        #expect(listing.records.map(\.id) == ["0", "1"])
        #expect(listing.records[1].title == "Ty Beanie Boos - Coconut, Monkey, Brown")
        #expect(listing.records[1].url == "https://example.com/b%2B.jpg")
        #expect(listing.failures.count == 1)
        #expect(listing.failures.first?.line == 4)
    }

    @Test func csvColumnsBeyondTheCoreBecomeAttributes() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/items.csv"
        try
            "id,title,url,colour,price\r\n7,\"Mug, \"\"large\"\"\",img/mug.jpg,red,4.5\r\n8,Cup,/abs/cup.png,blue,3\r\n9,short\r\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let listing = SourceReader.read([path])
        #expect(listing.records.count == 2)
        let mug = try #require(listing.records.first)
        #expect(mug.id == "7")
        #expect(mug.title == "Mug, \"large\"")
        #expect(mug.url == dir.path + "/img/mug.jpg")
        #expect(mug.attributes == #"{"colour":"red","price":"4.5"}"#)
        #expect(listing.records[1].url == "/abs/cup.png")
        #expect(listing.failures.map(\.line) == [4])
    }

    @Test func metadataJSONAndJSONLines() throws {
        let dir = try TemporaryDirectory()
        let json = dir.path + "/metadata.json"
        try #"[{"id": 3, "title": "A", "url": "http://h/a.jpg", "shelf": 2}, {"title": "no url"}]"#
            .write(toFile: json, atomically: true, encoding: .utf8)
        let lines = dir.path + "/items.jsonl"
        try "{\"id\":\"x\",\"title\":\"X\",\"url\":\"file:///x.png\"}\nnot json\n"
            .write(toFile: lines, atomically: true, encoding: .utf8)
        let listing = SourceReader.read([json, lines, dir.path + "/missing.json"])
        #expect(listing.records.map(\.id) == ["3", "x"])
        #expect(listing.records[0].attributes == #"{"shelf":2}"#)
        #expect(listing.failures.count == 3)
        #expect(!listing.complete)
    }

    @Test func directoryOfImagesUsesFileNamesAsIds() throws {
        let dir = try TemporaryDirectory()
        for name in ["b.JPG", "a.png", "notes.txt"] {
            #expect(FileManager.default.createFile(atPath: dir.path + "/" + name, contents: Data([1])))
        }
        let listing = SourceReader.read([dir.path])
        #expect(listing.records.map(\.id) == ["a", "b"])
        #expect(listing.records[0].url.hasSuffix("/a.png"))
    }
}
