import Foundation
import VectorIndex

extension CatalogueStore {
    /// The vector the index holds for the item with this id; nil when the item is unknown or
    /// pending.
    ///
    /// The index is keyed for search, not lookup, so this walks it: fine for one item's
    /// "similar items", not for a hot path.
    public func vector(ofItem id: String) throws(CatalogueError) -> [Float]? {
        guard let item = try item(id: id), item.state == .ready, let index else { return nil }
        let key = UInt64(bitPattern: item.key)
        guard index.contains(id: key) else { return nil }
        struct Found: Error { let vector: [Float] }
        do {
            try index.forEachItem { id, vector in
                if id == key { throw Found(vector: Array(vector)) }
            }
        } catch let found as Found {
            return found.vector
        } catch {
            return nil
        }
        return nil
    }
}
