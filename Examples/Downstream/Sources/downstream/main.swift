// Uses each library product once: an exact search, and the configuration types of the store, the server and
// the featurizer (building those needs a model and a store, which this smoke test does not have).
import Catalogue
import Featurizer
import SearchServer
import VectorIndex

let dimension = 8
let index = try FlatIndex(dimension: dimension, metric: .innerProduct)
let vectors = (0..<4).flatMap { row in (0..<dimension).map { Float($0 == row ? 1 : 0) } }
try index.add(ids: [10, 11, 12, 13], vectors: vectors)
let best = try index.search([0, 0, 1, 0, 0, 0, 0, 0], k: 1)
guard best.first?.id == 12 else { fatalError("expected item 12 first, got \(best)") }

let server = ServerConfiguration()
let choice = IndexChoice(kind: .flat)
let featurizer = Featurizer.Options(threads: 1)
print("nearest: \(best[0].id); server \(server.host):\(server.port); index \(choice.kind)")
print("featurizer threads: \(featurizer.threads ?? 0)")
