import Foundation
import VectorIndex

extension CatalogueStore {
    /// The vector the index holds for the item with this id; nil when the item is unknown or
    /// pending. One row lookup and one lookup in the index's id map.
    public func vector(ofItem id: String) throws(CatalogueError) -> [Float]? {
        guard let item = try item(id: id), item.state == .ready, let index else { return nil }
        return index.vector(id: UInt64(bitPattern: item.key))
    }
}
