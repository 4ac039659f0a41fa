import Foundation
import Testing
import VSearchTesting

/// The web UI in a real browser: headless Chromium, driven over the DevTools protocol, against the built
/// `vsearch serve` on a catalogue of real photos. Screenshots at desktop and phone sizes are saved as artefacts.
@Suite(.serialized) struct WebUITests {
    static let catalogue: [CatalogueEntry] = [
        ("coffee", "Cup of coffee on a saucer", "skimage/coffee.png"),
        ("chelsea", "Chelsea the cat", "skimage/chelsea.png"),
        ("rocket", "Rocket on the launch pad", "skimage/rocket.jpg"),
        ("astronaut", "Astronaut Eileen Collins", "skimage/astronaut.png"),
        ("horse", "Horse silhouette", "skimage/horse.png"),
        ("motorcycle", "Motorcycle, left view", "skimage/motorcycle_left.png"),
        ("camera", "Cameraman on a tripod", "skimage/camera.png"),
        ("coins", "Greek coins", "skimage/coins.png"),
        ("aqua", "Water drop", "mate/Aqua.jpg"),
        ("garden", "Marigold in the garden", "mate/Garden.jpg"),
        ("ladybird", "Ladybird on a stem", "mate/LadyBird.jpg"),
        ("storm", "Storm over the plain", "mate/Storm.jpg"),
        ("yellow-flower", "Yellow flower", "mate/YellowFlower.jpg"),
        ("raindrops", "Raindrops on a leaf", "mate/RainDrops.jpg"),
    ].map { CatalogueEntry(id: $0.0, title: $0.1, photo: Repository.photos + "/" + $0.2) }

    static func title(of id: String) -> String? { catalogue.first { $0.id == id }?.title }

    @Test func aPersonSearchesByPhotoWatchesLiveMatchesAndBrowsesTheCatalogue() async throws {
        let server = try await VSearchServer.start(entries: Self.catalogue)
        defer { server.stop() }
        let browser = try await Chromium.launch()
        do {
            let page = try await browser.newPage()
            let artifacts = try Repository.artifacts()
            try await emptyAndMissingThingsAreExplained(on: page, server: server, artifacts: artifacts)
            for screen in Screen.all {
                try await page.setViewport(
                    width: screen.width, height: screen.height, scale: screen.scale, mobile: screen.mobile)
                try await searchByUploading(
                    on: page, server: server, photo: screen.mobile ? "rocket" : "coffee", screen: screen,
                    artifacts: artifacts)
                try await liveShowsAnAPISearch(
                    on: page, server: server, photo: screen.mobile ? "ladybird" : "chelsea", screen: screen,
                    artifacts: artifacts)
                try await browseAndOpenAnItem(on: page, server: server, screen: screen, artifacts: artifacts)
            }
            try await aBadUploadShowsTheServersMessage(on: page, server: server)
            try await aWebcamSnapshotSearches(on: page, server: server)
            try await aURLSearchWithAFilterKeepsMatchingItems(on: page, server: server)
            try await pastingOrDroppingAPhotoSearches(on: page, server: server)
            // The dark scheme, on the phone, with a real photo as the latest event.
            _ = try await server.search(photo: Repository.photos + "/skimage/coffee.png")
            try await page.setColorScheme("dark")
            try await page.navigate(to: server.baseURL + "/#/live")
            try await page.waitUntil(
                "the live page shows an event", "document.querySelector('#live-current .event') !== null")
            try await page.screenshot(to: "\(artifacts)/live-phone-dark.png")
        } catch {
            await browser.close()
            throw BrowserTestFailure("\(error)\nserver log: \(server.serverLog())")
        }
        await browser.close()
    }

    /// Search page: a real photo set on the file input, as a person picking it; its own item comes first.
    func searchByUploading(
        on page: BrowserPage, server: VSearchServer, photo id: String, screen: Screen, artifacts: String
    ) async throws {
        let photo = try #require(Self.catalogue.first { $0.id == id })
        try await page.navigate(to: server.baseURL + "/#/search")
        try await page.waitUntil("the search page shows", "document.querySelector('#search-file') !== null")
        try await page.setFile(photo.photo, on: "#search-file")
        try await page.waitUntil(
            "search results appear", "document.querySelector('#search-results .card, #search-results .notice') !== null"
        )
        let titles = try await page.texts("#search-results .card-title")
        let notice = try await page.texts("#search-results .notice")
        #expect(titles.first == photo.title, "results: \(titles), notice: \(notice)")
        #expect(titles.count == 8)  // the page asks for k = 8 and the catalogue has more items
        let timing = try await page.texts(".preview-timing")
        #expect(timing.first?.hasPrefix("8 results in") == true)
        try await expectAccessibleBasics(on: page, "search")
        try await page.screenshot(to: "\(artifacts)/search-\(screen.name).png")
    }

    /// Live page: open it, search through the API from outside the browser, and see that event arrive over SSE.
    func liveShowsAnAPISearch(
        on page: BrowserPage, server: VSearchServer, photo id: String, screen: Screen, artifacts: String
    ) async throws {
        let photo = try #require(Self.catalogue.first { $0.id == id })
        try await page.navigate(to: server.baseURL + "/#/live")
        try await page.waitUntil(
            "the live stream connects", "document.querySelector('#live-status.pill-live') !== null")
        let answer = try await server.search(photo: photo.photo)
        let eventID = try #require(answer["event_id"] as? String)
        try await page.waitUntil(
            "event \(eventID) shows on the Live page",
            "document.querySelector('#live-current .event')?.dataset.eventId === \(quoted(eventID))"
        )
        let titles = try await page.texts("#live-current .event-matches .card-title")
        #expect(titles.first == photo.title)
        #expect(try await page.texts("#live-current .event-source") == ["API search"])
        // The earlier search (from the Search page) is in the history strip beside this one.
        #expect(try await page.texts("#live-history .history-item").count >= 2)
        try await expectAccessibleBasics(on: page, "live")
        try await page.screenshot(to: "\(artifacts)/live-\(screen.name).png")
    }

    /// Catalogue page: every item listed; opening one shows its title, attributes and similar items.
    func browseAndOpenAnItem(on page: BrowserPage, server: VSearchServer, screen: Screen, artifacts: String)
        async throws
    {
        try await page.navigate(to: server.baseURL + "/#/catalogue")
        try await page.waitUntil("catalogue items show", "document.querySelector('#catalogue-grid .card') !== null")
        let titles = try await page.texts("#catalogue-grid .card-title")
        #expect(Set(titles) == Set(Self.catalogue.map(\.title)))
        #expect(try await page.texts("#catalogue-summary").first?.hasPrefix("\(Self.catalogue.count) items") == true)
        try await expectAccessibleBasics(on: page, "catalogue")
        try await page.screenshot(to: "\(artifacts)/catalogue-\(screen.name).png")

        let opened = try #require(
            try await page.evaluate(
                "(() => { const card = document.querySelector('#catalogue-grid .card[data-id=\"garden\"] a'); card.click(); return card.closest('.card').dataset.id; })()"
            ) as? String)
        try await page.waitUntil(
            "the item's similar items show",
            "document.querySelector('#item-similar .card, #item-similar .empty, #item-similar .notice') !== null")
        #expect(try await page.texts("#item-title") == [Self.title(of: opened)].compactMap { $0 })
        #expect(try await page.texts(".facts-item dd").contains("mate"))
        let similar =
            try await page.evaluate(
                "[...document.querySelectorAll('#item-similar .card')].map((card) => card.dataset.id)") as? [String]
            ?? []
        #expect(!similar.isEmpty)
        #expect(!similar.contains(opened))  // the item itself is left out of its similar items
        try await expectAccessibleBasics(on: page, "item")
        try await page.screenshot(to: "\(artifacts)/item-\(screen.name).png")
    }

    /// A file that is not an image: the page shows the server's one-line JSON error message, not a blank grid.
    func aBadUploadShowsTheServersMessage(on page: BrowserPage, server: VSearchServer) async throws {
        let file = NSTemporaryDirectory() + "vsearch-not-an-image-\(UUID().uuidString).jpg"
        try Data("this is plain text, not a photo".utf8).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        try await page.navigate(to: server.baseURL + "/#/search")
        try await page.setFile(file, on: "#search-file")
        try await page.waitUntil("an error shows", "document.querySelector('#search-results .notice-error') !== null")
        let message = try await page.texts("#search-results .notice-error p").first ?? ""
        #expect(!message.isEmpty)
        #expect(!message.hasPrefix("The server answered"))  // the server's own message, from its JSON error body
        #expect(try await page.texts("#search-results .card").isEmpty)
    }
}

extension WebUITests {
    /// The camera button, with Chromium's synthetic camera: the snapshot is searched and results show.
    func aWebcamSnapshotSearches(on page: BrowserPage, server: VSearchServer) async throws {
        try await page.navigate(to: server.baseURL + "/#/search")
        _ = try await page.evaluate("document.querySelector('#search-camera').click()")
        try await page.waitUntil(
            "the camera preview plays", "document.querySelector('#camera-panel video')?.videoWidth > 0")
        _ = try await page.evaluate("document.querySelector('#camera-capture').click()")
        try await page.waitUntil(
            "camera search results appear",
            "document.querySelector('#search-results .card, #search-results .notice') !== null")
        #expect(try await page.texts("#search-results .card-title").count == 8)
        #expect(try await page.texts(".preview-name") == ["camera.jpg"])
        #expect(try await page.evaluate("document.querySelector('#camera-panel').hidden") as? Bool == true)
    }
}

extension WebUITests {
    /// The URL field with an attribute filter: the server fetches the picture, and only `collection=mate` items
    /// come back. A filter without `=` is refused on the page before anything is sent.
    func aURLSearchWithAFilterKeepsMatchingItems(on page: BrowserPage, server: VSearchServer) async throws {
        try await page.navigate(to: server.baseURL + "/#/search")
        let pictureURL = server.baseURL + "/api/v1/items/garden/thumbnail?size=512"
        try await page.fillAndSubmitURLSearch(url: pictureURL, filter: "collection")
        try await page.waitUntil(
            "a filter error shows", "document.querySelector('#search-results .notice-error') !== null")
        #expect(try await page.texts("#search-results .notice-error p").first?.contains("key=value") == true)

        try await page.fillAndSubmitURLSearch(url: pictureURL, filter: "collection=mate")
        try await page.waitUntil(
            "URL search results appear", "document.querySelector('#search-results .card') !== null")
        let ids =
            try await page.evaluate(
                "[...document.querySelectorAll('#search-results .card')].map((card) => card.dataset.id)") as? [String]
        let mate = Self.catalogue.filter { $0.photo.contains("/mate/") }.map(\.id)
        #expect(ids?.first == "garden")
        #expect(Set(ids ?? []) == Set(mate))  // k = 8, but only the six mate items pass the filter
    }
}

extension WebUITests {
    /// What assistive technology needs from every page: images with alt text (empty when decorative), form fields
    /// with labels, buttons and links with names, and exactly one current tab.
    func expectAccessibleBasics(on page: BrowserPage, _ pageName: String) async throws {
        let problems =
            try await page.evaluate(
                """
                [
                    ...[...document.querySelectorAll('main img:not([alt])')].map((image) => `image without alt: ${image.src}`),
                    ...[...document.querySelectorAll('main input')]
                        .filter((input) => !input.labels?.length && !input.getAttribute('aria-label'))
                        .map((input) => `input without label: ${input.id || input.name}`),
                    ...[...document.querySelectorAll('main button, main a[href]')]
                        .filter((control) => !control.textContent.trim() && !control.getAttribute('aria-label')
                            && !control.querySelector('img[alt]:not([alt=""])'))
                        .map((control) => `control without a name: ${control.outerHTML.slice(0, 80)}`),
                    ...(document.querySelectorAll('.tabs [aria-current="page"]').length === 1 ? [] : ['not one current tab']),
                ]
                """
            ) as? [String]
        #expect(problems == [], "\(pageName) page")
    }
}

extension WebUITests {
    /// Ctrl+V of a picture on another page opens Search with it; a picture dropped on the drop zone is searched.
    /// The browser's own clipboard and drag events carry the file, as they do when a person pastes or drops.
    func pastingOrDroppingAPhotoSearches(on page: BrowserPage, server: VSearchServer) async throws {
        try await page.navigate(to: server.baseURL + "/#/live")
        try await page.dispatchPictureEvent(
            item: "horse", fileName: "pasted-horse.jpg",
            script: """
                document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }))
                """)
        try await page.waitUntil(
            "the pasted picture's results show",
            "location.hash === '#/search' && document.querySelector('.preview-name')?.textContent === 'pasted-horse.jpg'"
                + " && document.querySelector('#search-results .card') !== null")
        #expect(try await page.texts("#search-results .card-title").first == Self.title(of: "horse"))

        try await page.dispatchPictureEvent(
            item: "coins", fileName: "dropped-coins.jpg",
            script: """
                const zone = document.querySelector('#dropzone');
                for (const type of ['dragenter', 'dragover', 'drop'])
                    zone.dispatchEvent(new DragEvent(type, { dataTransfer: data, bubbles: true, cancelable: true }));
                """)
        try await page.waitUntil(
            "the dropped picture's results show",
            "document.querySelector('.preview-name')?.textContent === 'dropped-coins.jpg'"
                + " && document.querySelector('#search-results .card') !== null")
        #expect(try await page.texts("#search-results .card-title").first == Self.title(of: "coins"))
    }
}

extension WebUITests {
    /// Before any search the Live page says so; a page past the end and an unknown item say what is wrong.
    func emptyAndMissingThingsAreExplained(on page: BrowserPage, server: VSearchServer, artifacts: String) async throws
    {
        try await page.setViewport(width: 1280, height: 900, scale: 1, mobile: false)
        try await page.navigate(to: server.baseURL + "/#/live")
        try await page.waitUntil(
            "the live page settles",
            "document.querySelector('#live-current .empty, #live-current .event, #live-current .notice') !== null")
        #expect(try await page.texts("#live-current .empty-title") == ["No matches yet"])
        try await page.screenshot(to: "\(artifacts)/live-empty-desktop.png")

        try await page.navigate(to: server.baseURL + "/#/catalogue/2")
        try await page.waitUntil("the empty page shows", "document.querySelector('.catalogue-body .empty') !== null")
        #expect(try await page.texts(".catalogue-body .empty-title") == ["No items on this page"])

        try await page.navigate(to: server.baseURL + "/#/item/no-such-item")
        try await page.waitUntil(
            "the missing item is reported", "document.querySelector('.item-body .notice-error') !== null")
        #expect(try await page.texts(".item-body .notice-error strong") == ["No such item"])
        #expect(try await page.texts(".item-body .notice-error p").first?.contains("no-such-item") == true)
    }
}

extension BrowserPage {
    /// Fetches an item's picture into a `File` named `fileName`, puts it in a DataTransfer `data`, and runs `script`.
    func dispatchPictureEvent(item: String, fileName: String, script: String) async throws {
        _ = try await evaluate(
            """
            (async () => {
                const blob = await (await fetch('/api/v1/items/\(item)/thumbnail?size=512')).blob();
                const data = new DataTransfer();
                data.items.add(new File([blob], \(quoted(fileName)), { type: 'image/jpeg' }));
                \(script)
            })()
            """
        )
    }

    /// Types a URL and a filter into the search page's fields and submits the URL form, as a person would.
    func fillAndSubmitURLSearch(url: String, filter: String) async throws {
        _ = try await evaluate(
            """
            (() => {
                document.querySelector('#search-filter').value = \(quoted(filter));
                const field = document.querySelector('#search-url');
                field.value = \(quoted(url));
                field.form.requestSubmit();
            })()
            """
        )
    }
}

/// A screen size the UI is checked and photographed at.
struct Screen: Sendable {
    let name: String
    let width: Int
    let height: Int
    let scale: Double
    let mobile: Bool

    static let all = [
        Screen(name: "desktop", width: 1280, height: 900, scale: 1, mobile: false),
        Screen(name: "phone", width: 390, height: 844, scale: 2, mobile: true),
    ]
}
