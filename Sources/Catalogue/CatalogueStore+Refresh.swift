import Foundation
import VectorIndex

extension CatalogueStore {
    /// A token that changes whenever another process writes the index: the size and modification
    /// time of its snapshot and log.
    ///
    /// A store open for reading loads the index once; a long-lived reader (the server, while an
    /// ingest holds the writer lock) compares this token now and then and reopens the store when
    /// it changed, so newly ingested items become searchable. Item metadata needs no refresh:
    /// SQLite readers always see the latest commit.
    public var indexChangeToken: String {
        [IndexStore.snapshotName, IndexStore.logName].map { name -> String in
            let attributes = try? FileManager.default.attributesOfItem(atPath: indexDirectory + "/" + name)
            let size = (attributes?[.size] as? Int) ?? -1
            let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            return "\(name):\(size):\(modified)"
        }.joined(separator: ",")
    }
}
