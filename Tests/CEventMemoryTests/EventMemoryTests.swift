import CEventMemory
import Testing

// The cell allocator libevent's small allocations go through (Sources/CEventMemory). The region
// is process-wide, so one test walks through every case in order.
@Suite struct EventMemoryTests {
    @Test func cellsForSmallAllocationsMallocForTheRest() throws {
        #expect(slotproxy_event_memory_install() == 0)
        let inUse = slotproxy_event_memory_cells_in_use()

        // Up to 32 bytes: a cell, reused once freed.
        let record = try #require(slotproxy_event_malloc(16))
        #expect(slotproxy_event_memory_cells_in_use() == inUse + 1)
        slotproxy_event_free(record)
        #expect(slotproxy_event_memory_cells_in_use() == inUse)
        let again = try #require(slotproxy_event_malloc(32))
        #expect(again == record)

        // Larger: glibc's, no cell.
        let large = try #require(slotproxy_event_malloc(33))
        #expect(slotproxy_event_memory_cells_in_use() == inUse + 1)
        slotproxy_event_free(large)
        #expect(slotproxy_event_memory_cells_in_use() == inUse + 1)

        // realloc within a cell stays; past it, the bytes move to malloc and the cell is freed.
        let bytes = again.assumingMemoryBound(to: UInt8.self)
        for i in 0..<32 { bytes[i] = UInt8(i) }
        #expect(slotproxy_event_realloc(again, 24) == again)
        let moved = try #require(slotproxy_event_realloc(again, 200))
        #expect(moved != again)
        #expect(slotproxy_event_memory_cells_in_use() == inUse)
        let movedBytes = moved.assumingMemoryBound(to: UInt8.self)
        #expect((0..<32).allSatisfy { movedBytes[$0] == UInt8($0) })
        slotproxy_event_free(moved)

        // realloc of nothing allocates (a cell when small); freeing nothing does nothing.
        let fresh = try #require(slotproxy_event_realloc(nil, 8))
        #expect(slotproxy_event_memory_cells_in_use() == inUse + 1)
        slotproxy_event_free(fresh)
        slotproxy_event_free(nil)
        #expect(slotproxy_event_memory_cells_in_use() == inUse)
    }
}
