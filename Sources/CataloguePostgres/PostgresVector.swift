import PostgresNIO

/// A pgvector `vector` value in pgvector's binary format, sent and received as it is.
///
/// The format is `vector_send`'s: the dimension as a 16-bit integer, 16 unused bits, then each
/// value as a 4-byte IEEE float, all big-endian. Binary transfer keeps a 1,280-value vector at
/// 5 KB, where text would be about 14 KB and need a float parser on both sides, and it keeps every
/// bit of every value, so a vector read back equals the one written.
///
/// `vector` is an extension type: its OID differs between databases, so each value carries the OID
/// the catalogue looked up when it connected (a "dynamic type" to postgres-nio).
struct PostgresVector: PostgresDynamicTypeEncodable, PostgresDecodable {
    /// The longest vector pgvector stores.
    static let maximumDimension = 16_000

    var values: ArraySlice<Float>
    let psqlType: PostgresDataType
    var psqlFormat: PostgresFormat { .binary }

    init(_ values: ArraySlice<Float>, type: PostgresDataType) {
        self.values = values
        self.psqlType = type
    }

    func encode<JSONEncoder: PostgresJSONEncoder>(
        into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>
    ) {
        buffer.reserveCapacity(minimumWritableBytes: 4 + 4 * values.count)
        buffer.writeInteger(Int16(truncatingIfNeeded: values.count))
        buffer.writeInteger(Int16(0))
        for value in values { buffer.writeInteger(value.bitPattern) }
    }

    init<JSONDecoder: PostgresJSONDecoder>(
        from buffer: inout ByteBuffer, type: PostgresDataType, format: PostgresFormat,
        context: PostgresDecodingContext<JSONDecoder>
    ) throws {
        guard format == .binary, let dimension = buffer.readInteger(as: Int16.self),
            buffer.readInteger(as: Int16.self) != nil, dimension >= 0,
            buffer.readableBytes == 4 * Int(dimension)
        else { throw PostgresDecodingError.Code.failure }
        var values: [Float] = []
        values.reserveCapacity(Int(dimension))
        while let bits = buffer.readInteger(as: UInt32.self) { values.append(Float(bitPattern: bits)) }
        self.values = values[...]
        self.psqlType = type
    }
}
