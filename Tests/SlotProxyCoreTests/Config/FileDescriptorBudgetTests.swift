import Testing
@testable import SlotProxyCore

@Suite("FileDescriptorBudget")
struct FileDescriptorBudgetTests {
    @Test("the reserve grows with the workers' backend connections")
    func reserve() {
        #expect(FileDescriptorBudget.reserved(threads: 1) == 96)
        #expect(FileDescriptorBudget.reserved(threads: 4) == 288)
        #expect(FileDescriptorBudget.wanted(maxClients: 10000, threads: 2) == 10160)
    }

    @Test("maxclients is kept when the limit covers it and the reserve")
    func fits() {
        #expect(FileDescriptorBudget.maxClients(10000, fittingUnder: 10160, threads: 2) == 10000)
        #expect(FileDescriptorBudget.maxClients(10000, fittingUnder: 1 << 20, threads: 2) == 10000)
    }

    @Test("maxclients is lowered to the limit minus the reserve, never below one")
    func lowered() {
        #expect(FileDescriptorBudget.maxClients(10000, fittingUnder: 1024, threads: 1) == 928)
        #expect(FileDescriptorBudget.maxClients(10000, fittingUnder: 4096, threads: 2) == 3936)
        #expect(FileDescriptorBudget.maxClients(10000, fittingUnder: 50, threads: 1) == 1)
    }
}
