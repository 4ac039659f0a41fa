import Testing

@testable import VSearchCore

@Suite struct ProgressReporterTests {
    @Test func aLineShowsDoneTotalRateEtaAndFailures() {
        let line = ProgressReporter.render(label: "ingest", done: 50, total: 200, failed: 2, elapsed: 10, barWidth: 0)
        #expect(line == "ingest 50/200 (25%) ETA 30s 5.0/s 2 failed")
    }

    @Test func theBarFillsWithTheFraction() {
        let line = ProgressReporter.render(label: "x", done: 1, total: 2, failed: 0, elapsed: 1, barWidth: 10)
        #expect(line.contains("[#####-----]"))
    }

    @Test func anUnknownTotalShowsACount() {
        let line = ProgressReporter.render(label: "x", done: 7, total: nil, failed: 0, elapsed: 0, barWidth: 10)
        #expect(line == "x 7 0.0/s")
    }

    @Test func durationsReadNaturally() {
        #expect(ProgressReporter.formatDuration(59) == "59s")
        #expect(ProgressReporter.formatDuration(61) == "1m1s")
        #expect(ProgressReporter.formatDuration(7322) == "2h2m")
    }
}
