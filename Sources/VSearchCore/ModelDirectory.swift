import Foundation

/// A model directory on disk: `model.onnx` beside `model.json`.
public struct ModelDirectory: Sendable {
    public let url: URL
    public let descriptor: ModelDescriptor

    /// The default model: EfficientNet-Lite0 with the blend recipe
    /// (`scripts/prepare-model.sh lite0 --blend`), which finds an object seen small in a scene.
    public static let defaultModelName = "efficientnet-lite0-blend"

    /// Where a model is looked for when none is named: `$VSEARCH_MODEL`, then
    /// `./models/efficientnet-lite0-blend`, then
    /// `$XDG_DATA_HOME/vsearch/models/efficientnet-lite0-blend` (by default under
    /// `~/.local/share`), where the preparation script installs it.
    public static func defaultLocation(environment: [String: String] = ProcessInfo.processInfo.environment)
        -> URL
    {
        if let path = environment["VSEARCH_MODEL"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        let local = URL(fileURLWithPath: "models/\(defaultModelName)")
        if FileManager.default.fileExists(atPath: local.appendingPathComponent("model.json").path) {
            return local
        }
        return dataHome(environment: environment).appendingPathComponent("models/\(defaultModelName)")
    }

    /// `$XDG_DATA_HOME/vsearch`, or `~/.local/share/vsearch`.
    public static func dataHome(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let xdg = environment["XDG_DATA_HOME"], !xdg.isEmpty {
            return URL(fileURLWithPath: xdg).appendingPathComponent("vsearch")
        }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".local/share/vsearch")
    }

    /// Opens the directory named by `path`, or the default location.
    public init(path: String?) throws(ModelDirectoryError) {
        let url = path.map { URL(fileURLWithPath: $0) } ?? Self.defaultLocation()
        try self.init(url: url)
    }

    public init(url: URL) throws(ModelDirectoryError) {
        self.url = url
        let json = url.appendingPathComponent("model.json")
        let data: Data
        do {
            data = try Data(contentsOf: json)
        } catch {
            throw .missing(path: json.path)
        }
        do {
            descriptor = try JSONDecoder().decode(ModelDescriptor.self, from: data)
        } catch {
            throw .invalid(path: json.path, reason: String(describing: error))
        }
    }

    /// The ONNX file's location.
    public var onnxURL: URL { url.appendingPathComponent(descriptor.onnx) }

    /// The class names, one per line, when the model has any.
    public func labels() -> [String]? {
        guard let name = descriptor.logits?.labels,
            let text = try? String(contentsOf: url.appendingPathComponent(name), encoding: .utf8)
        else { return nil }
        return text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }
}

public enum ModelDirectoryError: VSearchError {
    case missing(path: String)
    case invalid(path: String, reason: String)

    public var description: String {
        switch self {
        case .missing(let path):
            return "\(path): no model here; run scripts/prepare-model.sh"
        case .invalid(let path, let reason):
            return "\(path): not a valid model description: \(reason)"
        }
    }
}
