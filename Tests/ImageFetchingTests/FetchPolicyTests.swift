import Testing

@testable import ImageFetching

@Suite struct FetchPolicyTests {
    @Test func addressesParseAndPrintInTheirStandardForms() throws {
        #expect(IPAddress("10.0.0.1")?.description == "10.0.0.1")
        #expect(IPAddress("[::1]")?.description == "::1")
        #expect(IPAddress("fe80::1%eth0")?.description == "fe80::1")
        #expect(IPAddress("::ffff:127.0.0.1")?.mappedIPv4 == IPAddress("127.0.0.1"))
        for text in ["", "example.com", "127.1", "2130706433", "1.2.3.4.5", "::g", "[10.0.0.1]x"] {
            #expect(IPAddress(text) == nil, "\(text)")
        }
        #expect(AddressRange("172.16.0.0/12")?.contains(IPAddress("172.31.255.255")!) == true)
        #expect(AddressRange("172.16.0.0/12")?.contains(IPAddress("172.32.0.0")!) == false)
        #expect(AddressRange("10.0.0.0/8")?.contains(IPAddress("::ffff:10.0.0.1")!) == false)
        for text in ["10.0.0.0/33", "10.0.0.0/", "/8", "::/129", "10.0.0.0/8/1", "10.0.0.0/-1"] {
            #expect(AddressRange(text) == nil, "\(text)")
        }
    }

    @Test func everyNonPublicBlockIsRefusedAndPublicAddressesPass() {
        let refused: [(String, String)] = [
            ("127.0.0.1", "loopback"), ("127.255.0.9", "loopback"), ("10.9.8.7", "private"),
            ("172.16.0.1", "private"), ("172.31.255.254", "private"), ("192.168.0.1", "private"),
            ("169.254.169.254", "link-local"), ("0.0.0.0", "unspecified"), ("100.64.0.1", "carrier-grade"),
            ("224.0.0.251", "multicast"), ("255.255.255.255", "reserved"), ("192.0.2.1", "documentation"),
            ("::", "unspecified"), ("::1", "loopback"), ("fd00::1", "unique-local"), ("fc00::1", "unique-local"),
            ("fe80::1", "link-local"), ("ff02::1", "multicast"), ("::ffff:127.0.0.1", "loopback address (IPv4-mapped)"),
            ("::ffff:169.254.169.254", "link-local"), ("::ffff:10.0.0.1", "private"),
            ("64:ff9b::a9fe:a9fe", "link-local"), ("2002:7f00:1::", "loopback address (through 6to4)"),
            ("2001:db8::1", "documentation"), ("::127.0.0.1", "global unicast"), ("4000::1", "global unicast"),
        ]
        for (text, kind) in refused {
            let refusal = FetchAddressPolicy.publicOnly.refusal(of: IPAddress(text)!)
            #expect(refusal?.contains(kind) == true, "\(text): \(refusal ?? "allowed")")
        }
        for text in ["8.8.8.8", "93.184.215.14", "172.32.0.1", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]
        {
            #expect(FetchAddressPolicy.publicOnly.refusal(of: IPAddress(text)!) == nil, "\(text)")
        }
    }

    @Test func theOperatorCanAllowNamedBlocksAndCIDRs() throws {
        let loopback = FetchAddressPolicy(allowing: try #require(FetchAddressPolicy.blocks(named: "loopback")))
        #expect(loopback.refusal(of: IPAddress("127.0.0.1")!) == nil)
        #expect(loopback.refusal(of: IPAddress("::1")!) == nil)
        #expect(loopback.refusal(of: IPAddress("::ffff:127.0.0.1")!) == nil)
        #expect(loopback.refusal(of: IPAddress("10.0.0.1")!) != nil)
        #expect(loopback.refusal(of: IPAddress("169.254.169.254")!) != nil)
        let lan = FetchAddressPolicy(allowing: try #require(FetchAddressPolicy.blocks(named: "10.1.0.0/16")))
        #expect(lan.refusal(of: IPAddress("10.1.200.3")!) == nil)
        #expect(lan.refusal(of: IPAddress("10.2.0.1")!) != nil)
        #expect(FetchAddressPolicy.blocks(named: "Private")?.count == 4)
        #expect(FetchAddressPolicy.blocks(named: "link-local")?.count == 2)
        #expect(FetchAddressPolicy.blocks(named: "everything") == nil)
    }
}
