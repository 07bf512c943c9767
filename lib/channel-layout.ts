// The shared layout of a Channel: two lock pages, then the ring.
//
// page 0  bytes 0..63     the producers' lock (a Mutex lock header)
//         bytes 64..127   reserved: the object's self-description
//         bytes 128..     the channel's header (the words below)
// page 1  bytes 0..63     the consumers' lock
// then    the ring: `capacity` bytes (a power of two) of records
//
// Positions (TAIL, HEAD) count bytes modulo 2^32; a record starts at
// position & (capacity - 1). Each record is 8-byte aligned:
//   int32 length   payload bytes
//   int32 type     BYTES, STRING, VALUE (v8.serialize) or WRAP
//   payload, padded to a multiple of 8
// A WRAP record fills the bytes left before the ring's end when the next
// record does not fit there; receivers skip it.

/** Int32 indices into page 0. */
export const MAGIC = 32 // byte 128: 'IPCC' once initialised
export const LAYOUT = 33 // layout version
export const CAPACITY = 34 // ring bytes
export const MAX_MESSAGE = 35 // largest payload a sender may send
export const OBJECTS = 36 // Channel objects opened so far: each takes the next value as its id (0 is skipped)
// The producers' cache line.
export const TAIL = 48 // byte 192: position after the last published record
export const SEALED = 49 // 1 once sealed
export const RECV_EVENT = 50 // receivers sleep on it: bit 0 = someone sleeps, bits 1.. count wake-ups
export const RECV_SLEEPERS = 51 // receivers asleep (advisory: a killed sleeper stays counted)
export const SEND_PARKED = 52 // 1 while a sender holds a reserved slot: it changes nothing until it clears this
export const TAIL_BY = 53 // id of the object that stored TAIL last (stored before TAIL)
// The consumers' cache line.
export const HEAD = 64 // byte 256: position of the oldest record not yet taken
export const SEND_EVENT = 65 // senders sleep on it, as RECV_EVENT
export const SEND_SLEEPERS = 66
export const RECV_PARKED = 67 // 1 while a receiver holds a view: it changes nothing until it clears this
export const HEAD_BY = 68 // id of the object that stored HEAD last (stored before HEAD)
export const HEADER_WORDS = 80

export const MAGIC_VALUE = 0x43435049 // 'IPCC'
export const LAYOUT_VERSION = 2

/** Record types (the second word of a record). */
export const BYTES = 1
export const STRING = 2
export const VALUE = 3
export const WRAP = 4

export const RECORD_HEADER = 8
/** The smallest and largest ring. */
export const MIN_CAPACITY = 256
export const MAX_CAPACITY = 1 << 30

/** Bytes a record of `length` payload bytes takes in the ring. */
export function recordSize(length: number): number {
  return (RECORD_HEADER + length + 7) & ~7
}
