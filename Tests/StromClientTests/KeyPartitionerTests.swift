import NIOCore
import StromClient
import Testing

@Suite struct KeyPartitionerTests {
    /// Kafka's own vectors (`UtilsTest.testMurmur2`), as Java's signed ints.
    @Test(arguments: [
        ("21", -973_932_308), ("foobar", -790_332_482), ("a-little-bit-long-string", -985_981_536),
        ("a-little-bit-longer-string", -1_486_304_829), ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
        ("abc", 479_470_107),
    ] as [(String, Int32)])
    func murmur2MatchesKafka(key: String, expected: Int32) {
        #expect(Int32(bitPattern: KeyPartitioner.murmur2(ByteBuffer(string: key))) == expected)
    }

    @Test func partitionIsThePositiveHashModuloTheCount() {
        // "21" hashes to -973932308; toPositive clears the sign bit: 1173551340 % 7 == 6.
        #expect(KeyPartitioner.partition(forKey: ByteBuffer(string: "21"), partitionCount: 7) == 1_173_551_340 % 7)
        #expect(KeyPartitioner.partition(forKey: ByteBuffer(), partitionCount: 1) == 0)
    }

    @Test func readsOnlyTheReadableBytes() {
        var buffer = ByteBuffer(string: "xxfoobar")
        buffer.moveReaderIndex(forwardBy: 2)
        #expect(KeyPartitioner.murmur2(buffer) == KeyPartitioner.murmur2(ByteBuffer(string: "foobar")))
    }
}
