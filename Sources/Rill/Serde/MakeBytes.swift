/// `count` bytes, written by `initialize` into scratch memory and copied into a new array.
///
/// On Linux, `[UInt8](repeating:count:)` and `Array(unsafeUninitializedCapacity:)` allocate through
/// unspecialized code in the standard library, which looks the array's storage type up at run time
/// (a lock and a hash lookup): about 340 instructions more per array than `Array(_:)` of a buffer,
/// whose allocation is specialized. Store keys and timestamped values are built here, one or two
/// per record.
@inlinable
func makeBytes(count: Int, _ initialize: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows -> [UInt8] {
    try withUnsafeTemporaryAllocation(byteCount: count, alignment: 8) { scratch in
        try initialize(scratch)
        return Array(UnsafeRawBufferPointer(scratch))
    }
}
