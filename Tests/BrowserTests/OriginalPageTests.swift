import Foundation
import Testing
import VSearchTesting

/// The original AngularJS page's contract in a real browser: a page written to it, with Debian's
/// AngularJS 1.x, served from another origin, polls the built `vsearch serve` and shows the
/// titles and pictures of the latest matches.
@Suite(.serialized) struct OriginalPageTests {
    /// Apostrophes in titles, as in the original's data ("Men's …"), which the page's quote
    /// replacement must not break.
    static let catalogue: [CatalogueEntry] = [
        ("coffee", "Men's 'barista' coffee cup", "skimage/coffee.png"),
        ("chelsea", "Chelsea's whiskers", "skimage/chelsea.png"),
        ("rocket", "Rocket on the launch pad", "skimage/rocket.jpg"),
        ("astronaut", "Astronaut Eileen Collins", "skimage/astronaut.png"),
        ("ladybird", "Ladybird on a stem", "mate/LadyBird.jpg"),
        ("yellow-flower", "Women's yellow flower brooch", "mate/YellowFlower.jpg"),
    ].map { CatalogueEntry(id: $0.0, title: $0.1, photo: Repository.photos + "/" + $0.2) }

    static let angular = "/usr/share/javascript/angular.js/angular.min.js"

    @Test func theOriginalPageShowsTheLatestMatchesFromAnotherOrigin() async throws {
        guard let angular = FileManager.default.contents(atPath: Self.angular) else {
            throw BrowserTestFailure("no \(Self.angular): install Debian's libjs-angularjs (scripts/install-deps.sh)")
        }
        let server = try await VSearchServer.start(entries: Self.catalogue)
        defer { server.stop() }
        let site = try await StaticSite.start(files: [
            "/index.html": .init(contentType: "text/html; charset=utf-8", body: Array(OriginalPage.html.utf8)),
            "/angular.min.js": .init(contentType: "text/javascript; charset=utf-8", body: Array(angular)),
        ])
        let browser = try await Chromium.launch()
        do {
            let page = try await browser.newPage()
            let api = (server.baseURL + "/").addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            try await page.navigate(to: site.baseURL + "/index.html?poll=200&api=" + api)
            #expect(site.baseURL != server.baseURL)

            // Before any search the server answers NO MATCHES; the page keeps polling and shows nothing.
            try await page.waitUntil(
                "the page has two answers from the API",
                "Number(document.querySelector('#status').dataset.answers) >= 2", seconds: 60)
            #expect(try await page.texts(".match").isEmpty)
            #expect(try await page.evaluate("document.querySelector('#status').dataset.stopped") as? String == "false")

            for photo in ["coffee", "chelsea"] {
                try await expectPageShowsMatches(of: photo, on: page, server: server)
            }
            try await page.screenshot(to: "\(try Repository.artifacts())/original-page.png")
        } catch {
            await browser.close()
            await site.stop()
            throw BrowserTestFailure("\(error)\nserver log: \(server.serverLog())")
        }
        await browser.close()
        await site.stop()
    }

    /// Searches with a catalogue photo through the API, then waits for the page to show that
    /// search's three best matches, pictures loaded.
    func expectPageShowsMatches(of id: String, on page: BrowserPage, server: VSearchServer) async throws {
        let photo = try #require(Self.catalogue.first { $0.id == id })
        let answer = try await server.search(photo: photo.photo)
        let matches = try #require(answer["matches"] as? [[String: Any]])
        let titles = matches.prefix(3).compactMap { $0["title"] as? String }
        #expect(titles.count == 3)
        #expect(titles.first == photo.title)
        #expect(titles.first?.contains("'") == true)
        let expected = String(decoding: try JSONSerialization.data(withJSONObject: titles), as: UTF8.self)
        try await page.waitUntil(
            "the page shows the titles \(expected) with every picture settled",
            """
            JSON.stringify([...document.querySelectorAll('.match .title')].map((e) => e.textContent.trim()))
                === \(quoted(expected))
            && [...document.querySelectorAll('.match img')].every((image) => image.complete)
            """, seconds: 60)
        let pictures = try #require(
            try await page.evaluate(
                "[...document.querySelectorAll('.match img')].map((image) => [image.currentSrc, image.naturalWidth])"
            ) as? [[Any]])
        #expect(pictures.count == 3)
        for picture in pictures {
            let source = picture.first as? String ?? ""
            // The catalogue's images are files on the server's disk: the page gets the server's picture URL.
            #expect(source.hasPrefix(server.baseURL + "/api/v1/items/"), "picture \(source)")
            #expect((picture.last as? Int ?? 0) > 0, "picture \(source) did not load")
        }
        #expect(try await page.evaluate("document.querySelector('#status').dataset.stopped") as? String == "false")
    }
}
