import Testing
@testable import KafkaProtocol

@Suite("KafkaErrorCode")
struct KafkaErrorCodeTests {
    @Test("codes are unique and contiguous from -1 to the highest code (Kafka has no gaps)")
    func contiguousAndUnique() {
        let raw = KafkaErrorCode.all.map(\.rawValue)
        #expect(Set(raw).count == raw.count)
        #expect(raw.first == -1)
        #expect(raw.last == 136)
        #expect(raw == Array(Int16(-1)...Int16(136)))
        #expect(KafkaErrorCode.all.count == 138)
    }

    @Test("names are unique, UPPER_SNAKE, and messages are single non-empty lines")
    func namesAndMessages() {
        let names = KafkaErrorCode.all.map(\.name)
        #expect(Set(names).count == names.count)
        for code in KafkaErrorCode.all {
            #expect(!code.name.isEmpty)
            #expect(code.name.allSatisfy { $0 == "_" || ("A"..."Z").contains($0) }, "\(code.rawValue)")
            #expect(!code.name.hasPrefix("UNKNOWN_CODE_"), "\(code.rawValue)")
            #expect(!code.message.isEmpty, "\(code)")
            #expect(!code.message.contains("\n"), "\(code)")
        }
    }

    @Test(
        "well-known codes have Kafka's name and retriable flag",
        arguments: [
            (KafkaErrorCode.unknownServerError, Int16(-1), "UNKNOWN_SERVER_ERROR", false),
            (.none, 0, "NONE", false),
            (.offsetOutOfRange, 1, "OFFSET_OUT_OF_RANGE", false),
            (.corruptMessage, 2, "CORRUPT_MESSAGE", true),
            (.unknownTopicOrPartition, 3, "UNKNOWN_TOPIC_OR_PARTITION", true),
            (.notLeaderOrFollower, 6, "NOT_LEADER_OR_FOLLOWER", true),
            (.requestTimedOut, 7, "REQUEST_TIMED_OUT", true),
            (.brokerNotAvailable, 8, "BROKER_NOT_AVAILABLE", false),
            (.messageTooLarge, 10, "MESSAGE_TOO_LARGE", false),
            (.networkException, 13, "NETWORK_EXCEPTION", true),
            (.coordinatorLoadInProgress, 14, "COORDINATOR_LOAD_IN_PROGRESS", true),
            (.coordinatorNotAvailable, 15, "COORDINATOR_NOT_AVAILABLE", true),
            (.notCoordinator, 16, "NOT_COORDINATOR", true),
            (.unknownMemberId, 25, "UNKNOWN_MEMBER_ID", false),
            (.rebalanceInProgress, 27, "REBALANCE_IN_PROGRESS", false),
            (.unsupportedVersion, 35, "UNSUPPORTED_VERSION", false),
            (.topicAlreadyExists, 36, "TOPIC_ALREADY_EXISTS", false),
            (.notController, 41, "NOT_CONTROLLER", true),
            (.concurrentTransactions, 51, "CONCURRENT_TRANSACTIONS", true),
            (.kafkaStorageError, 56, "KAFKA_STORAGE_ERROR", true),
            (.memberIdRequired, 79, "MEMBER_ID_REQUIRED", false),
            (.fencedInstanceId, 82, "FENCED_INSTANCE_ID", false),
            (.electionNotNeeded, 84, "ELECTION_NOT_NEEDED", true),
            (.producerFenced, 90, "PRODUCER_FENCED", false),
            (.transactionAbortable, 120, "TRANSACTION_ABORTABLE", false),
            (.shareSessionNotFound, 122, "SHARE_SESSION_NOT_FOUND", true),
            (.rebootstrapRequired, 129, "REBOOTSTRAP_REQUIRED", false),
            (.shareSessionLimitReached, 133, "SHARE_SESSION_LIMIT_REACHED", true),
            (.controllerIdNotRegistered, 136, "CONTROLLER_ID_NOT_REGISTERED", false),
        ] as [(KafkaErrorCode, Int16, String, Bool)]
    )
    func spotCheck(code: KafkaErrorCode, raw: Int16, name: String, retriable: Bool) {
        #expect(code.rawValue == raw)
        #expect(code.name == name)
        #expect(code.isRetriable == retriable)
        #expect(KafkaErrorCode(rawValue: raw) == code)
        #expect(code.description == "\(name) (\(raw))")
    }

    @Test("exactly Kafka's 32 retriable codes are retriable")
    func retriableSet() {
        let retriable = KafkaErrorCode.all.filter(\.isRetriable).map(\.rawValue)
        #expect(retriable == [
            2, 3, 5, 6, 7, 9, 13, 14, 15, 16, 19, 20, 41, 51, 56, 70, 71, 72, 74, 75,
            78, 80, 83, 84, 88, 89, 100, 103, 106, 122, 123, 133,
        ])
    }

    @Test("a code outside the table keeps its raw value and gets a placeholder name")
    func unknownCodeRoundTrips() {
        for raw: Int16 in [30000, 137, -2, .min, .max] {
            let code = KafkaErrorCode(rawValue: raw)
            #expect(code.rawValue == raw)
            #expect(code.name == "UNKNOWN_CODE_\(raw)")
            #expect(code.isRetriable == false)
            #expect(code.description == "UNKNOWN_CODE_\(raw) (\(raw))")
            #expect(!code.message.isEmpty)
            #expect(!KafkaErrorCode.all.contains(code))
            #expect(KafkaErrorCode(rawValue: code.rawValue) == code)
        }
    }
}
